"""The tools' operations through the SDK against a remote contactvault server: what ``contactvault mcp`` (stdio)
runs, with the CLI's key. Quotes are the server's (``precheck`` with ``create_quote``); this process only
remembers which people and channel each of its quotes priced, so that ``confirm_unlock`` needs the quote id alone.

Every submission is sent as ``x-call-source: agent``, so the server holds it to the key's guardrails.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from contactvault.agents.tools import Json, NotFoundRefusal, Refusal
from contactvault.client import APIStatusError, AsyncClient

ACTIONS = {"email": "unlock_contact_emails", "phone": "unlock_contact_phones"}
SKIPPED_FIELDS = (
    ("missing_personnel_ids", "not_found"),
    ("invalid_personnel_ids", "invalid_id"),
    ("unlinked_personnel_ids", "not_at_event"),
)
# Quote refusals that come with a fresh quote: the price changed, or the quote expired (404 on a known quote).
REPRICED = {"PRICE_CHANGED", "NOT_FOUND"}
TERMINAL = ("completed", "failed")


def _wire(model: Any) -> Json:
    """A model as the API spelled it."""
    dumped: Json = model.model_dump(mode="json", by_alias=True)
    return dumped


def _refusal(error: APIStatusError) -> Refusal:
    kind = NotFoundRefusal if error.status_code == 404 else Refusal
    return kind(error.message, {"error_key": error.error_key or "INTERNAL_ERROR", "details": error.details})


class RemoteAgent:
    """The tools' operations for the key in ``client``."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.quotes: dict[str, tuple[str, str, list[str]]] = {}  # quote id -> channel, event, chargeable ids
        self.channels: dict[str, str] = {}  # task id -> channel

    async def check(self) -> None:
        """Nothing to check here: the server refuses a key closed to agents."""

    async def _call(self, work: Any) -> Any:
        try:
            return await work
        except APIStatusError as error:
            raise _refusal(error) from None

    async def search_events(
        self, page: int, size: int, keyword: str | None, country: str | None, start: date | None, end: date | None
    ) -> Json:
        """A page of events."""
        found = await self._call(
            self.client.events.list(
                keyword=keyword,
                country=country,
                date_start_from=start.isoformat() if start else None,
                date_start_to=end.isoformat() if end else None,
                page=page,
                page_size=size,
            )
        )
        return _wire(found)

    async def list_event_people(
        self, event_id: str, page: int, size: int, department: str | None, level: str | None, search: str | None
    ) -> Json:
        """A page of the people at one event."""
        found = await self._call(
            self.client.personnel.list(
                event_id, search_query=search, department=department, level=level, page=page, page_size=size
            )
        )
        return _wire(found)

    async def find_contacts(
        self, page: int, size: int, company_name: str, role: str | None, person_name: str | None
    ) -> Json:
        """A page of people at matching companies."""
        found = await self._call(
            self.client.contacts.search(company_name, role=role, person_name=person_name, page=page, page_size=size)
        )
        return _wire(found)

    async def get_person(self, person_id: str) -> Json:
        """One person."""
        return _wire(await self._call(self.client.personnel.profile(person_id)))

    async def get_balance(self) -> Json:
        """The account's credits."""
        return _wire(await self._call(self.client.credits.balance()))

    async def list_unlocked(self, page: int, size: int) -> Json:
        """A page of what the account unlocked."""
        return _wire(await self._call(self.client.contacts.unlocked(page=page, page_size=size)))

    async def quote_unlock(self, channel: str, event_id: str, personnel_ids: list[str]) -> Json:
        """Price an unlock on the server and keep its quote (the server stores it; nothing is held)."""
        params = {"event_id": event_id, "personnel_ids": personnel_ids}
        result = await self._call(self.client.actions.precheck(ACTIONS[channel], params, create_quote=True))
        raw = _wire(result)
        detail: Json = raw.get("detail") or {}
        quote_id = raw.get("quote_id")
        chargeable = [str(p) for p in detail.get("personnel_ids") or []]
        if quote_id is not None:
            self.quotes[str(quote_id)] = (channel, str(event_id), chargeable)
        available = int(detail.get("available_balance") or 0)
        credits = int(raw.get("credits") or 0)
        unit = int(detail.get("unit_cost") or 0)
        people = [{"personnel_id": p, "outcome": "chargeable", "credits": unit} for p in chargeable]
        for field, outcome in SKIPPED_FIELDS:
            people += [{"personnel_id": str(p), "outcome": outcome, "credits": 0} for p in detail.get(field) or []]
        return {
            "allowed": bool(raw.get("allowed")),
            "reason_code": raw.get("reason_code"),
            "channel": channel,
            "quote_id": None if quote_id is None else str(quote_id),
            "expires_at": raw.get("expires_at"),
            "credits": credits,
            "unit_cost": unit,
            "balance_before": available,
            "balance_after": available - credits,
            "people": people,
            "counts": {k: v for k, v in detail.items() if k.endswith("_count")},
        }

    async def confirm_unlock(self, quote_id: str) -> Json:
        """Confirm one of this process's quotes; refused with a fresh quote when it expired or its price changed."""
        known = self.quotes.get(quote_id)
        if known is None:
            raise NotFoundRefusal("Quote not found.", {"error_key": "NOT_FOUND", "details": {}})
        channel, event_id, ids = known
        try:
            submitted = await self.client.unlocks.create(event_id, ids, channel=channel, quote_id=quote_id)  # type: ignore[arg-type]
        except APIStatusError as error:
            if error.error_key not in REPRICED:
                raise _refusal(error) from None
            fresh = await self.quote_unlock(channel, event_id, ids)
            what = "price changed since the quote" if error.error_key == "PRICE_CHANGED" else "quote expired"
            message = f"The {what}; nothing was charged. Check the fresh quote and confirm it instead."
            refused = {"error_key": error.error_key, "details": error.details}
            raise Refusal(message, {"refused": refused, "fresh_quote": fresh}) from None
        body = _wire(submitted)
        if body.get("task_id"):
            self.channels[str(body["task_id"])] = channel
        return {"channel": channel, "quote_id": quote_id, **body}

    async def get_task(self, task_id: str, wait_seconds: int) -> Json:
        """A task; waits (long-polls) up to ``wait_seconds`` for it to finish."""
        channel = self.channels.get(task_id)
        if channel is None:
            try:
                task = await self.client.unlocks.get(task_id, "email")
                channel = "email"
            except APIStatusError as error:
                if error.status_code != 404:
                    raise _refusal(error) from None
                channel = "phone"
                task = await self._call(self.client.unlocks.get(task_id, "phone"))
        else:
            task = await self._call(self.client.unlocks.get(task_id, channel))  # type: ignore[arg-type]
        deadline = time.monotonic() + wait_seconds
        while task.task_status not in TERMINAL and (left := deadline - time.monotonic()) >= 1:
            task = await self._call(self.client.unlocks.get(task_id, channel, wait=left))  # type: ignore[arg-type]
        return {"channel": channel, **_wire(task)}
