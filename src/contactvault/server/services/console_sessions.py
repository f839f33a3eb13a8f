"""Console sessions: a random token in the browser's cookie, only its SHA-256 stored; idle and absolute timeouts;
a session signed in with an API key ends when that key stops working (revoked, or expired after a rotation)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from contactvault.server.db import console as stored
from contactvault.server.domain.keys import key_state
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts

# ``last_seen_at`` moves at most once a minute: a page view is not a write.
TOUCH_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a console session acts for: an account, through one of its keys or as one of its users."""

    account_id: int
    key_id: str | None
    user_id: int | None
    user_email: str | None

    @property
    def label(self) -> str:
        """How the console names the signed-in principal (never a secret: a key by its public prefix)."""
        if self.user_email is not None:
            return self.user_email
        return f"key sk_{self.key_id}_…"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the cookie's token (shown to the browser once, never stored) and who it is."""

    token: str
    principal: Principal


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def sign_in_with_key(rt: Runtime, api_key: str) -> SignedIn:
    """A session for a working API key (``InvalidApiKey`` otherwise, the same error for every failure)."""
    caller = accounts.authenticate_key(rt, f"Bearer {api_key.strip()}")
    return _open(rt, Principal(caller.account_id, caller.key_id, None, None))


def open_for_user(rt: Runtime, account_id: int, user_id: int, email: str) -> SignedIn:
    """A session for a user whose password was verified (by ``console_users``)."""
    return _open(rt, Principal(account_id, None, user_id, email))


def _open(rt: Runtime, principal: Principal) -> SignedIn:
    now = rt.clock.now()
    token = secrets.token_urlsafe(32)  # a fresh token at every sign-in: no session fixation
    row = stored.SessionRow(
        principal.account_id,
        principal.key_id,
        principal.user_id,
        now,
        now,
        now + timedelta(seconds=rt.settings.console_absolute_seconds),
        None,
        None,
        None,
        principal.user_email,
    )
    with rt.db.write() as conn:
        stored.insert_session(conn, _hash(token), row)
    return SignedIn(token, principal)


def resolve(rt: Runtime, token: str | None) -> Principal | None:
    """The principal of a live session, or None (unknown, idle too long, past its limit, key or user ended)."""
    if not token or len(token) > 128:
        return None
    id_hash = _hash(token)
    with rt.db.read() as conn:
        row = stored.find_session(conn, id_hash)
    now = rt.clock.now()
    if row is None or not _holds(rt, row, now):
        return None
    if row.last_seen_at <= now - TOUCH_RESOLUTION:
        with rt.db.write() as conn:
            stored.touch_session(conn, id_hash, now)
    return Principal(row.account_id, row.api_key_id, row.user_id, row.user_email)


def _holds(rt: Runtime, row: stored.SessionRow, now: datetime) -> bool:
    if now >= row.expires_at or now >= row.last_seen_at + timedelta(seconds=rt.settings.console_idle_seconds):
        return False
    if row.api_key_id is not None:
        return key_state(row.key_revoked_at, row.key_expires_at, now).works
    if row.user_id is not None:
        return row.user_email is not None and row.user_disabled_at is None
    return False


def sign_out(rt: Runtime, token: str | None) -> None:
    """End a session (nothing happens for an unknown token)."""
    if token and len(token) <= 128:
        with rt.db.write() as conn:
            stored.delete_session(conn, _hash(token))


def purge_expired(rt: Runtime) -> int:
    """Delete sessions past their limits; returns how many."""
    now = rt.clock.now()
    with rt.db.write() as conn:
        return stored.purge_sessions(conn, now, now - timedelta(seconds=rt.settings.console_idle_seconds))
