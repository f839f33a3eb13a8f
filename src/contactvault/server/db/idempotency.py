"""Idempotency keys as stored: one row per (account, key), claimed, completed or expired.

A claim's ``created_at`` is its fencing token: ``complete`` and ``release`` act only on the row that still
carries it (and is still ``in_progress``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from contactvault.server.db.engine import Transaction
from contactvault.server.db.errors import AlreadyExists
from contactvault.server.db.tables import idempotency_keys


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A stored key: what request it was made for, and its state (and response, once completed)."""

    fingerprint: bytes
    state: str
    created_at: datetime
    expires_at: datetime
    status_code: int | None
    response_body: bytes | None


def _key(account_id: int, key: str) -> ColumnElement[bool]:
    return (idempotency_keys.c.account_id == account_id) & (idempotency_keys.c.key == key)


def _owned(account_id: int, key: str, token: datetime) -> ColumnElement[bool]:
    return (
        _key(account_id, key) & (idempotency_keys.c.state == "in_progress") & (idempotency_keys.c.created_at == token)
    )


def lock(conn: Transaction, account_id: int, key: str) -> KeyRecord | None:
    """The key's row, locked for the rest of the transaction (PostgreSQL), or None."""
    row = conn.execute(select(idempotency_keys).where(_key(account_id, key)).with_for_update()).first()
    if row is None:
        return None
    return KeyRecord(
        bytes(row.fingerprint),
        row.state,
        row.created_at,
        row.expires_at,
        None if row.status_code is None else int(row.status_code),
        None if row.response_body is None else bytes(row.response_body),
    )


def forget(conn: Transaction, account_id: int, key: str) -> None:
    """Delete the key's row, whatever its state."""
    conn.execute(delete(idempotency_keys).where(_key(account_id, key)))


def claim(
    conn: Transaction, account_id: int, key: str, fingerprint: bytes, now: datetime, expires_at: datetime
) -> None:
    """Insert a new ``in_progress`` row with token ``now``; AlreadyExists when a concurrent first use won."""
    try:
        conn.execute(
            insert(idempotency_keys).values(
                account_id=account_id,
                key=key,
                fingerprint=fingerprint,
                state="in_progress",
                created_at=now,
                expires_at=expires_at,
            )
        )
    except IntegrityError as exc:
        raise AlreadyExists("idempotency key") from exc


def take_over(conn: Transaction, account_id: int, key: str, now: datetime) -> None:
    """Give the key's row a later token, fencing out the claim that held it."""
    conn.execute(update(idempotency_keys).where(_key(account_id, key)).values(created_at=now))


def complete(
    conn: Transaction,
    account_id: int,
    key: str,
    token: datetime,
    *,
    status_code: int,
    body: bytes,
    expires_at: datetime,
) -> bool:
    """Store the response on the claim holding ``token``; False when the claim was taken over."""
    result = conn.execute(
        update(idempotency_keys)
        .where(_owned(account_id, key, token))
        .values(state="completed", status_code=status_code, response_body=body, expires_at=expires_at)
    )
    return result.rowcount == 1


def release(conn: Transaction, account_id: int, key: str, token: datetime) -> None:
    """Delete the claim holding ``token`` (nothing when it was taken over)."""
    conn.execute(delete(idempotency_keys).where(_owned(account_id, key, token)))


def purge_expired(conn: Transaction, now: datetime) -> int:
    """Delete every record expired at ``now``; returns how many."""
    result = conn.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at <= now))
    return int(result.rowcount)
