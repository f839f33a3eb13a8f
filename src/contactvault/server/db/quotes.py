"""Quotes as stored: what a precheck promised (chargeable ids, credits) to one account on one channel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select

from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import quotes


@dataclass(frozen=True, slots=True)
class QuoteRow:
    """A stored quote; ``personnel_ids`` are the chargeable ids, sorted."""

    quote_id: int
    account_id: int
    channel: str
    event_id: int
    personnel_ids: tuple[int, ...]
    credits: int
    created_at: datetime
    expires_at: datetime


def insert_quote(conn: Transaction, q: QuoteRow) -> None:
    """Store a new quote."""
    conn.execute(
        insert(quotes).values(
            id=q.quote_id,
            account_id=q.account_id,
            channel=q.channel,
            event_id=q.event_id,
            personnel_ids=json.dumps(sorted(q.personnel_ids), separators=(",", ":")),
            credits=q.credits,
            created_at=q.created_at,
            expires_at=q.expires_at,
        )
    )


def find(conn: Transaction, quote_id: int, account_id: int, channel: str) -> QuoteRow | None:
    """The quote if it is this account's on this channel (another account's answers the same as none)."""
    row = conn.execute(
        select(quotes).where(
            (quotes.c.id == quote_id) & (quotes.c.account_id == account_id) & (quotes.c.channel == channel)
        )
    ).first()
    if row is None:
        return None
    return QuoteRow(
        int(row.id),
        int(row.account_id),
        row.channel,
        int(row.event_id),
        tuple(int(i) for i in json.loads(row.personnel_ids)),
        int(row.credits),
        row.created_at,
        row.expires_at,
    )


def purge_expired(conn: Transaction, now: datetime) -> int:
    """Delete every quote expired at ``now``; returns how many."""
    return int(conn.execute(delete(quotes).where(quotes.c.expires_at <= now)).rowcount)
