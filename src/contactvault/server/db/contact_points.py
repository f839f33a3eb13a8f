"""The vault's stored contact points: what the vault resolver reads (one query per channel and batch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from contactvault.server.db.bulk import in_ids
from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import contact_points


@dataclass(frozen=True, slots=True)
class StoredContact:
    """One stored contact point of a person, sealed as stored."""

    personnel_id: int
    value_encrypted: bytes
    value_hash: bytes
    source: str | None
    verification_status: str | None
    verification_score: int | None
    checked_at: datetime | None


def stored_contacts(conn: Transaction, channel: str, personnel_ids: Sequence[int]) -> list[StoredContact]:
    """The stored contact points of ``channel`` for these people (absent people are simply missing)."""
    query = select(
        contact_points.c.personnel_id,
        contact_points.c.value_encrypted,
        contact_points.c.value_hash,
        contact_points.c.source,
        contact_points.c.verification_status,
        contact_points.c.verification_score,
        contact_points.c.checked_at,
    ).where(contact_points.c.channel == channel, in_ids(conn, contact_points.c.personnel_id, personnel_ids))
    return [StoredContact(*row) for row in conn.execute(query)]
