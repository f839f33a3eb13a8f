"""Console users: people of an account who sign in with an email and a password (stored only as an argon2id hash).

Sales teams share an account, not a key: each person gets a user. A failed sign-in says nothing about why (unknown
email, wrong password, disabled user all answer alike), and an unknown email still costs one argon2 verification
against a dummy hash, so the time taken does not reveal which emails exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from contactvault.server.db import accounts as stored_accounts
from contactvault.server.db import audit
from contactvault.server.db import console as stored
from contactvault.server.db.errors import AlreadyExists
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InvalidRequest, NotFound, StateConflict
from contactvault.server.runtime import Runtime
from contactvault.server.services import console_sessions

MIN_PASSWORD_LENGTH = 12
# argon2 hashes any length, but a megabyte password is a denial of service, not a password.
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 320
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
# argon2id with the RFC 9106 low-memory parameters (argon2-cffi's defaults).
HASHER = PasswordHasher()


class SignInRefused(Exception):
    """Email or password not accepted (one error for an unknown email, a wrong password and a disabled user)."""

    def __init__(self) -> None:
        super().__init__("email or password not accepted")


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What may be shown of a user: never the password or its hash."""

    user_id: int
    account_id: int
    email: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def state(self) -> str:
        """``active`` or ``disabled``."""
        return "active" if self.disabled_at is None else "disabled"


def normalised_email(raw: str) -> str:
    """The email trimmed and lower-cased, or ``InvalidRequest`` naming the field ``email``."""
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email) or not email.isprintable():
        raise InvalidRequest("email must be an email address (name@example.com).", {"field": "email"})
    return email


def checked_password(password: str) -> str:
    """The password unchanged if its length is acceptable, else ``InvalidRequest`` naming the field ``password``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"password must be at least {MIN_PASSWORD_LENGTH} characters.", {"field": "password"})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequest(f"password must be at most {MAX_PASSWORD_LENGTH} characters.", {"field": "password"})
    return password


@cache
def _dummy_hash() -> str:
    # Verified against when the email is unknown: the same work as for a real user, whatever the outcome.
    return HASHER.hash("not a password of anyone: only spends the time a real check spends")


def _info(row: stored.UserRow) -> UserInfo:
    return UserInfo(row.user_id, row.account_id, row.email, row.created_at, row.disabled_at)


def create_user(rt: Runtime, account_id: int, email: str, password: str) -> UserInfo:
    """Add a user to an account (InvalidRequest for a bad email or password, StateConflict if the email is taken,
    NotFound for an unknown account)."""
    address = normalised_email(email)
    password_hash = HASHER.hash(checked_password(password))  # before the transaction: hashing takes a while
    now = rt.clock.now()
    row = stored.UserRow(rt.ids.new_id(), account_id, address, password_hash, now, None)
    try:
        with rt.db.write() as conn:
            if not stored_accounts.account_exists(conn, account_id):
                raise NotFound(f"Account {account_id} not found.")
            if stored.find_user(conn, address) is not None:
                raise AlreadyExists("console user")
            stored.insert_user(conn, row)
            audit.record(conn, [audit.AuditEntry(AuditAction.USER_CREATE, account_id, "user", str(row.user_id))], now)
    except AlreadyExists:
        raise StateConflict("A user with this email already exists.", {"field": "email"}) from None
    return _info(row)


def verify(rt: Runtime, email: str, password: str) -> UserInfo:
    """The active user with this email and password, or ``SignInRefused``; rehashes a hash made with older
    parameters. Slow on purpose (argon2): call it from a worker thread, never on the event loop."""
    try:
        address = normalised_email(email)
    except InvalidRequest:
        address = None
    with rt.db.read() as conn:
        row = stored.find_user(conn, address) if address is not None else None
    accepted = _matches(row.password_hash if row is not None else _dummy_hash(), password)
    if row is None or not accepted or row.disabled_at is not None:
        raise SignInRefused()
    if HASHER.check_needs_rehash(row.password_hash):
        with rt.db.write() as conn:
            stored.set_password_hash(conn, row.user_id, HASHER.hash(password))
    return _info(row)


def _matches(password_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD_LENGTH:
        password = password[:MAX_PASSWORD_LENGTH]  # still verified: the same time as any other failure
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sign_in(rt: Runtime, email: str, password: str) -> console_sessions.SignedIn:
    """A console session for a user whose password is right (``SignInRefused`` otherwise)."""
    user = verify(rt, email, password)
    return console_sessions.open_for_user(rt, user.account_id, user.user_id, user.email)


def list_users(rt: Runtime, account_id: int) -> list[UserInfo]:
    """The account's users, oldest first."""
    with rt.db.read() as conn:
        return [_info(row) for row in stored.users_of(conn, account_id)]


def disable_user(rt: Runtime, email: str) -> tuple[UserInfo, int]:
    """Disable a user (idempotent) and end their sessions at once; returns the user and how many sessions ended."""
    address = normalised_email(email)
    now = rt.clock.now()
    with rt.db.write() as conn:
        row = stored.find_user(conn, address)
        if row is None:
            raise NotFound("No user with this email.")
        disabled_at = row.disabled_at
        if disabled_at is None:
            disabled_at = now
            stored.set_disabled(conn, row.user_id, now)
            audit.record(
                conn, [audit.AuditEntry(AuditAction.USER_DISABLE, row.account_id, "user", str(row.user_id))], now
            )
        ended = stored.delete_sessions_of_user(conn, row.user_id)
    return UserInfo(row.user_id, row.account_id, row.email, row.created_at, disabled_at), ended
