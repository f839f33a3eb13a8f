"""Quotes: a precheck's price kept server-side, so that a confirmation cannot be charged more (or for other
people) than shown. ``unlocks.submit`` checks a quote inside the submission's own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contactvault.server.db import quotes as stored
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services.unlocks import PrecheckResult


@dataclass(frozen=True, slots=True)
class Quote:
    """A stored quote: its id (random, like a task's) and when it stops holding."""

    quote_id: int
    expires_at: datetime


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


def purge_expired(rt: Runtime) -> int:
    """Delete expired quotes; returns how many."""
    with rt.db.write() as conn:
        return stored.purge_expired(conn, rt.clock.now())
