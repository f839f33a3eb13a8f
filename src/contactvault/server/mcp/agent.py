"""The agent surface over the services, for one caller (key and account): what the MCP tools do on this server.

Every method answers the same JSON shapes as the HTTP API (built by ``api/mappers.py``), so the stdio server,
which reads them from a remote server through the SDK, answers like the HTTP transport; domain errors become
``Refusal``s (their messages are written for callers and carry no personal data).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from anyio import to_thread

from contactvault.agents.tools import Json, NotFoundRefusal, Refusal
from contactvault.server.api import mappers
from contactvault.server.domain.errors import DomainError, NotFound, PriceChanged
from contactvault.server.domain.guardrails import OPEN, Guardrails, require_agent_allowed
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.tasks import parse_task_id
from contactvault.server.notifier import WaitSlots
from contactvault.server.runtime import Runtime
from contactvault.server.services import credits, directory, quotes, unlocked_contacts, unlocks
from contactvault.server.services.directory import PageRequest
from contactvault.server.services.idempotency import Replay

CALL_SOURCE = "agent"
# Re-read a task at least this often while the notifier may miss a writer in another process.
FALLBACK_CHECK_SECONDS = 1.0
T = TypeVar("T")


def refusal(error: DomainError) -> Refusal:
    """A domain error as a tool refusal."""
    kind = NotFoundRefusal if isinstance(error, NotFound) else Refusal
    return kind(error.message, {"error_key": error.error_key, "details": error.details or {}})


async def _run(call: Callable[[], T]) -> T:
    try:
        return await to_thread.run_sync(call)
    except DomainError as error:
        raise refusal(error) from None


def _id(raw: str, what: str) -> int:
    value = parse_task_id(raw)  # the digit-string rule of every id
    if value is None:
        raise NotFoundRefusal(f"{what} not found.", {"error_key": "NOT_FOUND", "details": {}})
    return value


class LocalAgent:
    """The tools' operations for one authenticated caller, run in this process over the services."""

    def __init__(
        self, rt: Runtime, account_id: int, key_id: str, guardrails: Guardrails = OPEN, slots: WaitSlots | None = None
    ) -> None:
        self.rt = rt
        self.account_id = account_id
        self.key_id = key_id
        self.guardrails = guardrails  # as read when the call began; a submission checks them again, locked
        self.slots = slots  # the API's long-poll caps (per key, per node), shared with ?wait=

    async def check(self) -> None:
        """Refuse every tool when agent calls are off for the key."""
        try:
            require_agent_allowed(self.guardrails)
        except DomainError as error:
            raise refusal(error) from None

    async def search_events(
        self, page: int, size: int, keyword: str | None, country: str | None, start: date | None, end: date | None
    ) -> Json:
        """A page of events."""
        pages = PageRequest(page, size)
        found = await _run(
            lambda: directory.list_events(
                self.rt, pages, keyword=keyword, country=country, date_from=start, date_to=end
            )
        )
        return mappers.event_page(found)

    async def list_event_people(
        self, event_id: str, page: int, size: int, department: str | None, level: str | None, search: str | None
    ) -> Json:
        """A page of the people at one event (NotFound names the event)."""
        event, pages = _id(event_id, "Event"), PageRequest(page, size)

        def people() -> Json:
            directory.get_event(self.rt, event)
            found = directory.list_personnel(
                self.rt, self.account_id, event, pages, department=department, level=level, search_query=search
            )
            return mappers.personnel_page(found)

        return await _run(people)

    async def find_contacts(
        self, page: int, size: int, company_name: str, role: str | None, person_name: str | None
    ) -> Json:
        """A page of people at matching companies across all events."""
        pages = PageRequest(page, size)
        found = await _run(
            lambda: directory.search_contacts(
                self.rt, self.account_id, pages, company_name=company_name, role=role, person_name=person_name
            )
        )
        return mappers.contact_page(found)

    async def get_person(self, person_id: str) -> Json:
        """One person as this account sees them."""
        pid = _id(person_id, "Personnel")
        return mappers.contact_item(await _run(lambda: directory.profile(self.rt, self.account_id, pid)))

    async def get_balance(self) -> Json:
        """The account's credits."""
        return mappers.credit_balance(await _run(lambda: credits.balance(self.rt, self.account_id)))

    async def list_unlocked(self, page: int, size: int) -> Json:
        """A page of what this account has unlocked."""
        pages = PageRequest(page, size)
        found = await _run(lambda: unlocked_contacts.list_unlocked(self.rt, self.account_id, pages, None))
        return mappers.unlocked_page(found)

    async def quote_unlock(self, channel: str, event_id: str, personnel_ids: list[str]) -> Json:
        """Price an unlock and store the quote (nothing is held); a refusal says why."""
        return await _run(lambda: self._quote(Channel(channel), event_id, personnel_ids))

    def _quote(self, channel: Channel, event_id: str, personnel_ids: Sequence[str]) -> Json:
        result = unlocks.precheck(self.rt, self.account_id, channel, event_id, personnel_ids)
        quote = quotes.create(self.rt, self.account_id, channel, result)
        detail = mappers.precheck_detail(result)
        return quote_body(channel.value, result.reason_code.value, result.credits, detail, mappers.quote(quote))

    async def confirm_unlock(self, quote_id: str) -> Json:
        """Start the quoted task (the same task again for the same quote); refused with a fresh quote when the
        quote expired or its price changed."""
        qid = _id(quote_id, "Quote")
        return await _run(lambda: self._confirm(qid))

    def _confirm(self, quote_id: int) -> Json:
        quote = quotes.find_any(self.rt, self.account_id, quote_id)
        if quote is None:
            raise NotFound("Quote not found.")
        try:
            done = quotes.confirm_quote(
                self.rt, self.account_id, quote, mappers.submission_reply, call_source=CALL_SOURCE, key_id=self.key_id
            )
        except (PriceChanged, NotFound) as refused:
            ids = [str(pk) for pk in quote.personnel_ids]
            fresh = self._quote(quote.channel, str(quote.event_id), ids)
            details = {"refused": refusal_details(refused), "fresh_quote": fresh}
            raise Refusal(refusal_message(refused), details) from None
        outcome = done.outcome
        body = json.loads(outcome.body) if isinstance(outcome, Replay) else mappers.submission(outcome)
        return {"channel": quote.channel.value, "quote_id": str(quote_id), **body}

    async def get_task(self, task_id: str, wait_seconds: int) -> Json:
        """A task and its results; waits up to ``wait_seconds`` for it to finish (answers at once when it does)."""
        tid = _id(task_id, "Task")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        with self.rt.notifier.listen(tid) as listener:  # registered before the first read: no publish is missed
            view = await _run(lambda: self._task_view(tid))
            if view.terminal or not wait_seconds:
                return _task_body(view)
            refused = self.slots.take(self.key_id) if self.slots is not None else None
            if refused:
                return {**_task_body(view), "long_poll": f"refused-{refused}"}  # over a cap: answered at once
            try:
                while not view.terminal and (left := deadline - loop.time()) > 0:
                    recheck = None if self.rt.notifier.hears_every_writer() else FALLBACK_CHECK_SECONDS
                    await listener.wait(left if recheck is None else min(left, recheck))
                    view = await _run(lambda: self._task_view(tid))
            finally:
                if self.slots is not None:
                    self.slots.give_back(self.key_id)
        return _task_body(view)

    def _task_view(self, task_id: int) -> unlocks.TaskView:
        try:
            return unlocks.get_task(self.rt, self.account_id, task_id, Channel.EMAIL)
        except NotFound:
            return unlocks.get_task(self.rt, self.account_id, task_id, Channel.PHONE)


def _task_body(view: unlocks.TaskView) -> Json:
    return {"channel": view.channel.value, **mappers.task(view)}


def quote_body(channel: str, reason_code: str, credits_: int, detail: dict[str, Any], quote: dict[str, Any]) -> Json:
    """A quote as the tool shows it: allowed or not, the price, the balance after, and each person's line."""
    available = int(detail.get("available_balance", 0))
    unit = detail.get("unit_cost", 0)
    people = [{"personnel_id": p, "outcome": "chargeable", "credits": unit} for p in detail.get("personnel_ids", [])]
    for field, outcome in SKIPPED_FIELDS:
        people += [{"personnel_id": p, "outcome": outcome, "credits": 0} for p in detail.get(field, [])]
    return {
        "allowed": reason_code == "ok",
        "reason_code": reason_code,
        "channel": channel,
        "quote_id": quote.get("quote_id"),
        "expires_at": quote.get("expires_at"),
        "credits": credits_,
        "unit_cost": unit,
        "balance_before": available,
        "balance_after": available - credits_,
        "people": people,
        "counts": {k: v for k, v in detail.items() if k.endswith("_count")},
    }


SKIPPED_FIELDS = (
    ("missing_personnel_ids", "not_found"),
    ("invalid_personnel_ids", "invalid_id"),
    ("unlinked_personnel_ids", "not_at_event"),
)


def refusal_message(refused: PriceChanged | NotFound) -> str:
    """One line for the model: what happened and what to do next."""
    if isinstance(refused, PriceChanged):
        return "The price changed since the quote; nothing was charged. Check the fresh quote and confirm it instead."
    return "The quote expired; nothing was charged. Check the fresh quote and confirm it instead."


def refusal_details(refused: PriceChanged | NotFound) -> dict[str, Any]:
    """The refusal's error key and details."""
    return {"error_key": refused.error_key, "details": refused.details or {}}
