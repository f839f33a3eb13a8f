"""The agent surface over the services, for one caller (key and account): what the MCP tools do on this server.

Every method returns the same JSON shapes as the HTTP API (built by ``api/mappers.py``), so the stdio server,
which reads them from a remote server through the SDK, answers exactly like the HTTP transport.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from anyio import to_thread

from contactvault.server.api import mappers
from contactvault.server.domain.errors import NotFound, PriceChanged
from contactvault.server.domain.guardrails import OPEN, Guardrails
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.tasks import parse_task_id
from contactvault.server.mcp.errors import ToolRefusal
from contactvault.server.runtime import Runtime
from contactvault.server.services import credits, directory, quote_confirmation, quotes, unlocked_contacts, unlocks
from contactvault.server.services.directory import PageRequest
from contactvault.server.services.idempotency import Replay

CALL_SOURCE = "agent"
# Re-read a task at least this often while the notifier may miss a writer in another process.
FALLBACK_CHECK_SECONDS = 1.0


class LocalAgent:
    """The tools' operations for one authenticated caller, run in this process over the services."""

    def __init__(self, rt: Runtime, account_id: int, key_id: str, guardrails: Guardrails = OPEN) -> None:
        self.rt = rt
        self.account_id = account_id
        self.key_id = key_id
        self.guardrails = guardrails  # as read when the call began; a submission checks them again, locked

    def search_events(
        self, page: PageRequest, keyword: str | None, country: str | None, date_from: date | None, date_to: date | None
    ) -> dict[str, Any]:
        """A page of events."""
        found = directory.list_events(
            self.rt, page, keyword=keyword, country=country, date_from=date_from, date_to=date_to
        )
        return mappers.event_page(found)

    def list_event_people(
        self, event_id: int, page: PageRequest, department: str | None, level: str | None, search: str | None
    ) -> dict[str, Any]:
        """A page of the people at one event."""
        directory.get_event(self.rt, event_id)  # NotFound names the event
        found = directory.list_personnel(
            self.rt, self.account_id, event_id, page, department=department, level=level, search_query=search
        )
        return mappers.personnel_page(found)

    def find_contacts(
        self, page: PageRequest, company_name: str, role: str | None, person_name: str | None
    ) -> dict[str, Any]:
        """A page of people at matching companies across all events."""
        found = directory.search_contacts(
            self.rt, self.account_id, page, company_name=company_name, role=role, person_name=person_name
        )
        return mappers.contact_page(found)

    def get_person(self, person_id: int) -> dict[str, Any]:
        """One person as this account sees them."""
        return mappers.contact_item(directory.profile(self.rt, self.account_id, person_id))

    def get_balance(self) -> dict[str, Any]:
        """The account's credits."""
        return mappers.credit_balance(credits.balance(self.rt, self.account_id))

    def list_unlocked(self, page: PageRequest) -> dict[str, Any]:
        """A page of what this account has unlocked."""
        return mappers.unlocked_page(unlocked_contacts.list_unlocked(self.rt, self.account_id, page, None))

    def quote_unlock(self, channel: Channel, event_id: str, personnel_ids: Sequence[str]) -> dict[str, Any]:
        """Price an unlock and store the quote (nothing is held); a refusal says why."""
        result = unlocks.precheck(self.rt, self.account_id, channel, event_id, personnel_ids)
        quote = quotes.create(self.rt, self.account_id, channel, result)
        detail = mappers.precheck_detail(result)
        return quote_body(channel, result.reason_code.value, result.credits, detail, mappers.quote(quote))

    def confirm_unlock(self, raw_quote_id: str) -> dict[str, Any]:
        """Start the quoted task (the same task again for the same quote); refused with a fresh quote when the
        quote expired or its price changed."""
        quote_id = parse_task_id(raw_quote_id)
        if quote_id is None:
            raise NotFound("Quote not found.")
        quoted = quote_confirmation.quoted(self.rt, self.account_id, quote_id)
        try:
            outcome = quote_confirmation.confirm(
                self.rt, self.account_id, self.key_id, quoted, CALL_SOURCE, mappers.submission_reply
            )
        except (PriceChanged, NotFound) as refused:
            fresh = self.quote_unlock(quoted.channel, quoted.event_id, quoted.personnel_ids)
            details = {"refused": refusal_details(refused), "fresh_quote": fresh}
            raise ToolRefusal(refusal_message(refused), details) from None
        body = json.loads(outcome.body) if isinstance(outcome, Replay) else mappers.submission(outcome)
        return {"channel": quoted.channel.value, "quote_id": str(quote_id), **body}

    async def get_task(self, raw_task_id: str, wait_seconds: int) -> dict[str, Any]:
        """A task and its results; waits up to ``wait_seconds`` for it to finish (answers at once when it does)."""
        task_id = parse_task_id(raw_task_id)
        if task_id is None:
            raise NotFound("Task not found.")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        with self.rt.notifier.listen(task_id) as listener:
            while True:
                view = await to_thread.run_sync(self._task_view, task_id)
                left = deadline - loop.time()
                if view.terminal or left <= 0:
                    return {"channel": view.channel.value, **mappers.task(view)}
                recheck = None if self.rt.notifier.hears_every_writer() else FALLBACK_CHECK_SECONDS
                await listener.wait(left if recheck is None else min(left, recheck))

    def _task_view(self, task_id: int) -> unlocks.TaskView:
        try:
            return unlocks.get_task(self.rt, self.account_id, task_id, Channel.EMAIL)
        except NotFound:
            return unlocks.get_task(self.rt, self.account_id, task_id, Channel.PHONE)


def quote_body(
    channel: Channel, reason_code: str, credits_: int, detail: dict[str, Any], quote: dict[str, Any]
) -> dict[str, Any]:
    """A quote as the tool shows it: allowed or not, the price, the balance after, and each person's line."""
    available = int(detail.get("available_balance", 0))
    unit = detail.get("unit_cost", 0)
    people = [{"personnel_id": p, "outcome": "chargeable", "credits": unit} for p in detail.get("personnel_ids", [])]
    for field, outcome in SKIPPED_FIELDS:
        people += [{"personnel_id": p, "outcome": outcome, "credits": 0} for p in detail.get(field, [])]
    return {
        "allowed": reason_code == "ok",
        "reason_code": reason_code,
        "channel": channel.value,
        "quote_id": quote.get("quote_id"),
        "expires_at": quote.get("expires_at"),
        "credits": credits_,
        "unit_cost": detail.get("unit_cost"),
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
