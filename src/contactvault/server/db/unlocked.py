"""Reads behind an account's list of unlocked contacts and of its erased or opted-out people."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from contactvault.server.db.tables import audit_log, suppressions, unlocks

# Keyed hashes looked up per query (bound parameters stay well under every driver's limit).
HASH_CHUNK = 500


@dataclass(frozen=True, slots=True)
class UnlockRecord:
    """One unlock row of an account (the value sealed; ``None`` once erased or past retention)."""

    id: int
    personnel_id: int
    channel: str
    value_encrypted: bytes | None
    task_id: int | None = None
    created_at: datetime | None = None
    verification_status: str | None = None
    verification_score: int | None = None
    checked_at: datetime | None = None
    source: str | None = None


def _record(row: Any) -> UnlockRecord:
    return UnlockRecord(
        int(row.id),
        int(row.personnel_id),
        str(row.channel),
        None if row.value_encrypted is None else bytes(row.value_encrypted),
        row.task_id,
        row.created_at,
        row.verification_status,
        row.verification_score,
        row.checked_at,
        row.source,
    )


def unlocked_page(
    conn: Connection, account_id: int, since: datetime | None, limit: int, offset: int
) -> tuple[int, list[UnlockRecord]]:
    """How many unlocks the account has (since ``since``), and one page of them, oldest first."""
    where = [unlocks.c.account_id == account_id]
    if since is not None:
        where.append(unlocks.c.created_at >= since)
    total = int(conn.execute(select(func.count()).select_from(unlocks).where(*where)).scalar_one())
    rows = conn.execute(
        select(unlocks).where(*where).order_by(unlocks.c.created_at, unlocks.c.id).limit(limit).offset(offset)
    ).all()
    return total, [_record(r) for r in rows]


def account_unlocks(conn: Connection, account_id: int) -> list[UnlockRecord]:
    """Every unlock of the account (id, person, channel, sealed value only)."""
    query = select(unlocks.c.id, unlocks.c.personnel_id, unlocks.c.channel, unlocks.c.value_encrypted)
    return [
        UnlockRecord(int(i), int(pid), str(ch), None if v is None else bytes(v))
        for i, pid, ch, v in conn.execute(query.where(unlocks.c.account_id == account_id))
    ]


def listed(conn: Connection, digests: Sequence[bytes], since: datetime | None) -> list[tuple[str, bytes, datetime]]:
    """(kind, keyed hash, added at) of the opt-out entries with these hashes (added since ``since``)."""
    found: list[tuple[str, bytes, datetime]] = []
    for start in range(0, len(digests), HASH_CHUNK):
        query = select(suppressions.c.kind, suppressions.c.value_hash, suppressions.c.created_at).where(
            suppressions.c.value_hash.in_(digests[start : start + HASH_CHUNK])
        )
        if since is not None:
            query = query.where(suppressions.c.created_at >= since)
        found += [(kind, bytes(digest), aware(at)) for kind, digest, at in conn.execute(query)]
    return found


def erasures(conn: Connection, account_id: int, action: str, since: datetime | None) -> dict[int, datetime]:
    """Person id -> the latest audit row ``action`` (the erasure) for this account."""
    query = (
        select(audit_log.c.subject_id, func.max(audit_log.c.created_at))
        .where(audit_log.c.account_id == account_id, audit_log.c.action == action)
        .group_by(audit_log.c.subject_id)
    )
    if since is not None:
        query = query.where(audit_log.c.created_at >= since)
    return {int(pid): aware(at) for pid, at in conn.execute(query) if str(pid).isdigit()}


def aware(moment: datetime | str) -> datetime:
    """A driver's timestamp as an aware UTC datetime."""
    # func.max() bypasses the column type on SQLite: it hands back the stored text or a naive datetime.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
