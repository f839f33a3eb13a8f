"""Operator keys as stored (a key's secret only as its SHA-256 hash, its scopes comma-separated)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, LargeBinary, Row, String, Table, insert, or_, select, update

from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import UTC, metadata

# Operator keys (the operator API at /admin/v1, docs/operations.md): not an account's; a secret only as its SHA-256
# hash; ``scopes`` the granted scopes, comma-separated in a fixed order (accounts, credits, privacy).
operator_keys = Table(
    "operator_keys",
    metadata,
    Column("id", String(8), primary_key=True),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("label", String(200)),
    Column("created_at", UTC, nullable=False),
    Column("revoked_at", UTC),
    Column("last_used_at", UTC),
)


@dataclass(frozen=True, slots=True)
class StoredOperatorKey:
    """One ``operator_keys`` row."""

    key_id: str
    secret_hash: bytes
    scopes: tuple[str, ...]
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def _stored(row: Row[Any]) -> StoredOperatorKey:
    return StoredOperatorKey(
        str(row.id),
        bytes(row.secret_hash),
        tuple(s for s in str(row.scopes).split(",") if s),
        row.label,
        row.created_at,
        row.revoked_at,
        row.last_used_at,
    )


def id_taken(conn: Transaction, key_id: str) -> bool:
    """Whether an operator key with this id exists (revoked or not)."""
    return conn.execute(select(operator_keys.c.id).where(operator_keys.c.id == key_id)).first() is not None


def insert_key(
    conn: Transaction, key_id: str, secret_hash: bytes, scopes: tuple[str, ...], label: str | None, now: datetime
) -> None:
    """Store a new operator key."""
    conn.execute(
        insert(operator_keys).values(
            id=key_id, secret_hash=secret_hash, scopes=",".join(scopes), label=label, created_at=now
        )
    )


def key(conn: Transaction, key_id: str) -> StoredOperatorKey | None:
    """One operator key, or None."""
    row = conn.execute(select(operator_keys).where(operator_keys.c.id == key_id)).first()
    return None if row is None else _stored(row)


def keys(conn: Transaction) -> list[StoredOperatorKey]:
    """Every operator key, oldest first."""
    query = select(operator_keys).order_by(operator_keys.c.created_at, operator_keys.c.id)
    return [_stored(row) for row in conn.execute(query)]


def set_revoked(conn: Transaction, key_id: str, now: datetime) -> None:
    """Mark an operator key revoked from ``now``."""
    conn.execute(update(operator_keys).where(operator_keys.c.id == key_id).values(revoked_at=now))


def touch(conn: Transaction, key_id: str, stale: datetime, now: datetime) -> bool:
    """Set ``last_used_at`` to ``now`` unless it is later than ``stale``; whether it wrote."""
    result = conn.execute(
        update(operator_keys)
        .where(
            operator_keys.c.id == key_id,
            or_(operator_keys.c.last_used_at.is_(None), operator_keys.c.last_used_at <= stale),
        )
        .values(last_used_at=now)
    )
    return bool(result.rowcount)
