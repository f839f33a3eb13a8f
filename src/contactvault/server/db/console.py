"""Console sessions and users as stored (a session by the SHA-256 of its token; a user's password only as an
argon2id hash)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from contactvault.server.db.engine import Transaction
from contactvault.server.db.errors import AlreadyExists
from contactvault.server.db.tables import api_keys, console_sessions, console_users


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One session, with what is needed to decide whether it still holds."""

    account_id: int
    api_key_id: str | None
    user_id: int | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    # The key's revocation and expiry (key sessions), or the user's disabling (user sessions).
    key_revoked_at: datetime | None
    key_expires_at: datetime | None
    user_disabled_at: datetime | None
    user_email: str | None


@dataclass(frozen=True, slots=True)
class UserRow:
    """One console user."""

    user_id: int
    account_id: int
    email: str
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None


def insert_session(conn: Transaction, id_hash: bytes, row: SessionRow) -> None:
    """Store a new session."""
    conn.execute(
        insert(console_sessions).values(
            id_hash=id_hash,
            account_id=row.account_id,
            api_key_id=row.api_key_id,
            user_id=row.user_id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
        )
    )


def find_session(conn: Transaction, id_hash: bytes) -> SessionRow | None:
    """The session with its key's or user's state, or None."""
    s, k, u = console_sessions, api_keys, console_users
    row = conn.execute(
        select(
            s.c.account_id,
            s.c.api_key_id,
            s.c.user_id,
            s.c.created_at,
            s.c.last_seen_at,
            s.c.expires_at,
            k.c.revoked_at,
            k.c.expires_at.label("key_expires_at"),
            u.c.disabled_at,
            u.c.email,
        )
        .select_from(s.outerjoin(k, k.c.id == s.c.api_key_id).outerjoin(u, u.c.id == s.c.user_id))
        .where(s.c.id_hash == id_hash)
    ).first()
    if row is None:
        return None
    return SessionRow(
        int(row.account_id),
        row.api_key_id,
        int(row.user_id) if row.user_id is not None else None,
        row.created_at,
        row.last_seen_at,
        row.expires_at,
        row.revoked_at,
        row.key_expires_at,
        row.disabled_at,
        row.email,
    )


def touch_session(conn: Transaction, id_hash: bytes, now: datetime) -> None:
    """Record activity (the idle timeout counts from here)."""
    conn.execute(update(console_sessions).where(console_sessions.c.id_hash == id_hash).values(last_seen_at=now))


def delete_session(conn: Transaction, id_hash: bytes) -> int:
    """End one session; returns how many rows went (0 or 1)."""
    return int(conn.execute(delete(console_sessions).where(console_sessions.c.id_hash == id_hash)).rowcount or 0)


def delete_sessions_of_key(conn: Transaction, key_id: str) -> int:
    """End every session signed in with a key."""
    return int(conn.execute(delete(console_sessions).where(console_sessions.c.api_key_id == key_id)).rowcount or 0)


def delete_sessions_of_user(conn: Transaction, user_id: int) -> int:
    """End every session of a user."""
    return int(conn.execute(delete(console_sessions).where(console_sessions.c.user_id == user_id)).rowcount or 0)


def purge_sessions(conn: Transaction, absolute_before: datetime, idle_before: datetime) -> int:
    """Delete sessions past their absolute limit or idle since before ``idle_before``."""
    s = console_sessions
    stmt = delete(s).where((s.c.expires_at <= absolute_before) | (s.c.last_seen_at <= idle_before))
    return int(conn.execute(stmt).rowcount or 0)


def insert_user(conn: Transaction, row: UserRow) -> None:
    """Store a new user; ``AlreadyExists`` when the email is taken (the transaction is then unusable)."""
    try:
        conn.execute(
            insert(console_users).values(
                id=row.user_id,
                account_id=row.account_id,
                email=row.email,
                password_hash=row.password_hash,
                created_at=row.created_at,
                disabled_at=row.disabled_at,
            )
        )
    except IntegrityError as exc:
        raise AlreadyExists("console user") from exc


def find_user(conn: Transaction, email: str) -> UserRow | None:
    """The user with this (lower-cased) email, or None."""
    u = console_users
    row = conn.execute(select(u).where(u.c.email == email)).first()
    if row is None:
        return None
    return UserRow(int(row.id), int(row.account_id), row.email, row.password_hash, row.created_at, row.disabled_at)


def set_password_hash(conn: Transaction, user_id: int, password_hash: str) -> None:
    """Replace a user's hash (a rehash with newer parameters, or a new password)."""
    conn.execute(update(console_users).where(console_users.c.id == user_id).values(password_hash=password_hash))


def users_of(conn: Transaction, account_id: int) -> list[UserRow]:
    """Every user of an account, oldest first."""
    u = console_users
    rows = conn.execute(select(u).where(u.c.account_id == account_id).order_by(u.c.created_at, u.c.id))
    return [UserRow(int(r.id), int(r.account_id), r.email, r.password_hash, r.created_at, r.disabled_at) for r in rows]


def set_disabled(conn: Transaction, user_id: int, now: datetime) -> None:
    """Mark a user disabled from ``now`` (their sessions are ended by the caller)."""
    conn.execute(update(console_users).where(console_users.c.id == user_id).values(disabled_at=now))
