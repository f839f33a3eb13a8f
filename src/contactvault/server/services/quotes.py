"""Quotes: a precheck's price kept server-side, so that a confirmation cannot be charged more (or for other
people) than shown. ``unlocks.submit`` checks a quote inside the submission's own transaction; ``confirm`` is
the one way every entrypoint (the API, the console) confirms a quote, so that confirming it twice gives one task.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contactvault.server.db import quotes as stored
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.tasks import parse_task_id
from contactvault.server.runtime import Runtime
from contactvault.server.services import unlocks
from contactvault.server.services.idempotency import Replay
from contactvault.server.services.unlocks import PrecheckResult, Render, SubmitResult, UnlockRequest

# A quote id is its confirmation's idempotency key; the tab keeps it apart from every Idempotency-Key header
# (printable ASCII only).
QUOTE_KEY = "quote\t{}"


@dataclass(frozen=True, slots=True)
class Quote:
    """A stored quote: its id (random, like a task's) and when it stops holding."""

    quote_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class QuoteView:
    """What a quote promised: the chargeable ids (sorted) of one event, for ``credits``, until ``expires_at``."""

    quote_id: int
    channel: Channel
    event_id: int
    personnel_ids: tuple[int, ...]
    credits: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What confirming a quote did: its task (``task_id``; None when nothing was chargeable) and either the first
    call's ``SubmitResult`` or, for a repeat, the ``Replay`` of the reply the first call stored."""

    task_id: int | None
    outcome: SubmitResult | Replay

    @property
    def replayed(self) -> bool:
        """Whether an earlier confirmation made the task (nothing more was held by this one)."""
        return isinstance(self.outcome, Replay)


def create(rt: Runtime, account_id: int, channel: Channel, result: PrecheckResult) -> Quote | None:
    """Store the price of an allowed unlock precheck; None (nothing stored) when it is not allowed."""
    if not result.allowed or result.classification is None or result.event_id is None:
        return None
    now = rt.clock.now()
    quote = Quote(rt.ids.new_id(), now + timedelta(seconds=rt.settings.quote_ttl_seconds))
    row = stored.QuoteRow(
        quote.quote_id,
        account_id,
        channel.value,
        result.event_id,
        tuple(sorted(result.classification.chargeable_pks)),
        result.credits,
        now,
        quote.expires_at,
    )
    with rt.db.write() as conn:
        stored.insert_quote(conn, row)
    return quote


def find(rt: Runtime, account_id: int, channel: Channel, quote_id: int) -> QuoteView | None:
    """The account's quote on this channel, live or expired but not yet purged; None otherwise (another
    account's quote answers the same as none)."""
    with rt.db.read() as conn:
        row = stored.find(conn, quote_id, account_id, channel.value)
    if row is None:
        return None
    return QuoteView(row.quote_id, channel, row.event_id, row.personnel_ids, row.credits, row.expires_at)


def confirm(
    rt: Runtime, req: UnlockRequest, render: Render, sent: Mapping[str, Any], key: str | None = None
) -> Confirmation:
    """Submit ``req`` (which names a quote) at most once: under the caller's own ``key`` when it sent one, else
    under the quote's key, with ``sent`` (the body as the caller sent it) as the fingerprint. A repeat returns the
    reply ``render`` made the first time (the API's wire body, whichever entrypoint confirmed first) and its task
    id. A refusal (409 PRICE_CHANGED, 402, 404) stores nothing, so a retry is checked again."""
    if req.quote_id is None:
        raise ValueError("confirm needs a quote id")
    outcome = unlocks.submit_idempotent(
        rt, req, key or QUOTE_KEY.format(req.quote_id), unlocks.submission_fingerprint(req.channel, sent), render
    )
    if isinstance(outcome, Replay):
        return Confirmation(_replayed_task_id(outcome), outcome)
    return Confirmation(outcome.task_id, outcome)


def confirm_stored(
    rt: Runtime,
    account_id: int,
    channel: Channel,
    quote_id: int,
    render: Render,
    *,
    call_source: str,
    trace_id: str | None = None,
) -> Confirmation:
    """Confirm a quote knowing only its id (the console's form): the submission is the quote's own event and
    chargeable ids, sent as an API client confirming exactly those ids would send them (so the two replay each
    other). ``NotFound`` when the quote is unknown, another account's, or purged."""
    quote = find(rt, account_id, channel, quote_id)
    if quote is None:
        raise NotFound("Quote not found.")
    ids = [str(i) for i in quote.personnel_ids]
    sent = {"event_id": str(quote.event_id), "personnel_ids": ids, "max_credits": None, "quote_id": str(quote_id)}
    req = UnlockRequest(
        account_id=account_id,
        channel=channel,
        event_id=str(quote.event_id),
        personnel_ids=ids,
        call_source=call_source,
        trace_id=trace_id,
        quote_id=quote_id,
    )
    return confirm(rt, req, render, sent)


def _replayed_task_id(replay: Replay) -> int | None:
    # The stored reply is a submission's wire body, which names its task as a digit string ("task_id", contract
    # section 4); a reply without a task (nothing was chargeable) has none.
    try:
        body = json.loads(replay.body)
    except ValueError:
        return None
    raw = body.get("task_id") if isinstance(body, dict) else None
    return parse_task_id(raw) if isinstance(raw, str) else None


def purge_expired(rt: Runtime) -> int:
    """Delete expired quotes; returns how many."""
    with rt.db.write() as conn:
        return stored.purge_expired(conn, rt.clock.now())
