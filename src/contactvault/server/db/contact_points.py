"""The vault's stored contact points: what the vault resolver reads (one query per channel and batch), and the
backfill of their canonical hashes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update

from contactvault.server.db.bulk import in_ids
from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import contact_points

INVALID = "invalid"  # the verification status of a stored value the mail server refused (never revealed again)


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
    ).where(
        contact_points.c.channel == channel,
        in_ids(conn, contact_points.c.personnel_id, personnel_ids),
        # A value re-verification proved dead is never revealed again (worker/resolvers/reverify.py).
        or_(contact_points.c.verification_status.is_(None), contact_points.c.verification_status != INVALID),
    )
    return [StoredContact(*row) for row in conn.execute(query)]


def set_verification(
    conn: Transaction, personnel_id: int, channel: str, status: str, score: int | None, checked_at: datetime
) -> None:
    """Store a re-verification's verdict on a person's contact point (``INVALID`` hides it from the vault)."""
    conn.execute(
        update(contact_points)
        .where(contact_points.c.personnel_id == personnel_id, contact_points.c.channel == channel)
        .values(verification_status=status, verification_score=score, checked_at=checked_at)
    )


@dataclass(frozen=True, slots=True)
class UnhashedContact:
    """A stored contact point whose canonical hash is not computed yet."""

    row_id: int
    channel: str
    value_encrypted: bytes
    value_hash: bytes


def without_canonical_hash(conn: Transaction, after_id: int, limit: int) -> list[UnhashedContact]:
    """Up to ``limit`` contact points with no canonical hash and a row id above ``after_id``, in id order."""
    c = contact_points.c
    query = (
        select(c.id, c.channel, c.value_encrypted, c.value_hash)
        .where(contact_points.c.id > after_id, contact_points.c.canonical_hash.is_(None))
        .order_by(contact_points.c.id)
        .limit(limit)
    )
    return [UnhashedContact(int(r[0]), str(r[1]), bytes(r[2]), bytes(r[3])) for r in conn.execute(query)]


def set_canonical_hashes(conn: Transaction, hashes: Sequence[tuple[int, bytes, bytes]]) -> int:
    """Store (row id, legacy hash, canonical hash) where the row still has that legacy hash and no canonical hash (an
    import meanwhile wrote both); how many rows took it."""
    done = 0
    for row_id, legacy, canonical in hashes:
        result = conn.execute(
            update(contact_points)
            .where(
                contact_points.c.id == row_id,
                contact_points.c.value_hash == legacy,
                contact_points.c.canonical_hash.is_(None),
            )
            .values(canonical_hash=canonical)
        )
        done += int(result.rowcount)
    return done
