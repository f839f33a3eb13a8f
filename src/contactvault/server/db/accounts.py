"""Accounts and API keys as stored (a key's secret only as its SHA-256 hash)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, or_, select, update
from sqlalchemy import insert as sql_insert

from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import accounts, api_keys


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One ``api_keys`` row."""

    key_id: str
    account_id: int
    label: str | None
    secret_hash: bytes
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None


_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.account_id,
    api_keys.c.label,
    api_keys.c.secret_hash,
    api_keys.c.created_at,
    api_keys.c.last_used_at,
    api_keys.c.revoked_at,
    api_keys.c.expires_at,
)


def _stored(row: Row[Any, Any, Any, Any, Any, Any, Any, Any]) -> StoredKey:
    return StoredKey(
        str(row.id),
        int(row.account_id),
        row.label,
        bytes(row.secret_hash),
        row.created_at,
        row.last_used_at,
        row.revoked_at,
        row.expires_at,
    )


def insert_account(conn: Transaction, account_id: int, name: str, now: datetime) -> None:
    """Store a new account."""
    conn.execute(sql_insert(accounts).values(id=account_id, name=name, created_at=now))


def account_exists(conn: Transaction, account_id: int) -> bool:
    """Whether the account is stored."""
    return conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is not None


def account_name(conn: Transaction, account_id: int) -> str | None:
    """The account's name, or None when it is not stored."""
    name = conn.execute(select(accounts.c.name).where(accounts.c.id == account_id)).scalar_one_or_none()
    return None if name is None else str(name)


def key_id_taken(conn: Transaction, key_id: str) -> bool:
    """Whether a key with this id exists (revoked or not)."""
    return conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id)).first() is not None


def insert_key(
    conn: Transaction, key_id: str, account_id: int, secret_hash: bytes, label: str | None, now: datetime
) -> None:
    """Store a new key."""
    conn.execute(
        sql_insert(api_keys).values(
            id=key_id, account_id=account_id, secret_hash=secret_hash, label=label, created_at=now
        )
    )


def key(conn: Transaction, key_id: str) -> StoredKey | None:
    """One key, or None."""
    row = conn.execute(select(*_KEY_COLUMNS).where(api_keys.c.id == key_id)).first()
    return None if row is None else _stored(row)


def keys(conn: Transaction, account_id: int | None = None) -> list[StoredKey]:
    """Every key (of one account, when given), oldest first."""
    query = select(*_KEY_COLUMNS).order_by(api_keys.c.created_at, api_keys.c.id)
    if account_id is not None:
        query = query.where(api_keys.c.account_id == account_id)
    return [_stored(row) for row in conn.execute(query)]


def set_revoked(conn: Transaction, key_id: str, now: datetime) -> None:
    """Mark a key revoked from ``now``."""
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))


def set_expiry(conn: Transaction, key_id: str, expires_at: datetime) -> None:
    """Make a key stop working at ``expires_at``."""
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(expires_at=expires_at))


def touch(conn: Transaction, key_id: str, stale: datetime, now: datetime) -> bool:
    """Set ``last_used_at`` to ``now`` unless it is later than ``stale``; whether it wrote.

    Concurrent requests that all saw a stale value: the condition lets one of them write.
    """
    result = conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at <= stale))
        .values(last_used_at=now)
    )
    return bool(result.rowcount)
