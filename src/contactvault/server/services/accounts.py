"""Accounts and API keys: create, revoke, rotate, authenticate (keys are stored only as SHA-256 hashes)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from contactvault.server.db import accounts as stored
from contactvault.server.db import audit, console
from contactvault.server.db.engine import Transaction
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InvalidApiKey, InvalidRequest, NotFound, StateConflict
from contactvault.server.domain.keys import KeyState, key_state, rotation_refusal
from contactvault.server.runtime import Runtime
from contactvault.server.services.idempotency import Keep

_KEY = re.compile(r"(?:sk|uak)_([0-9a-f]{8})_([A-Za-z0-9_-]{16,128})")
_KEY_ID = re.compile(r"[0-9a-f]{8}")
MAX_LABEL_LENGTH = 200  # the column's width
# ``last_used_at`` is a hint for operators, not a log: one write a minute per key at most.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# A storage's last-use stamp: (conn, key id, stale before, now) -> whether it wrote.
Touch = Callable[[Transaction, str, datetime, datetime], bool]


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key; ``api_key`` is shown once and never stored."""

    key_id: str
    account_id: int
    api_key: str


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a valid key belongs to."""

    key_id: str
    account_id: int
    last_used_at: datetime | None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_secret(conn: Transaction, taken: Callable[[Transaction, str], bool]) -> tuple[str, str, bytes]:
    """A new key's id (one ``taken`` says is free), its secret, and the secret's digest (all that is stored)."""
    while True:
        key_id = secrets.token_hex(4)
        if not taken(conn, key_id):
            break
    secret = secrets.token_urlsafe(32)
    return key_id, secret, _digest(secret)


def create_account(rt: Runtime, name: str, keep: Keep[int] | None = None) -> int:
    """Create an account and return its id (``keep``: an idempotent caller's reply, stored in this transaction)."""
    now = rt.clock.now()
    account_id = rt.ids.new_id()
    with rt.db.write() as conn:
        stored.insert_account(conn, account_id, name, now)
        audit.record(conn, [audit.AuditEntry(AuditAction.ACCOUNT_CREATE, account_id, "account", str(account_id))], now)
        if keep is not None:
            keep(conn, account_id)
    return account_id


def create_key(
    rt: Runtime, account_id: int, label: str | None = None, keep: Keep[IssuedKey] | None = None
) -> IssuedKey:
    """Issue a key for an account (``InvalidRequest`` naming ``label`` for one too long or with control characters;
    ``keep``: an idempotent caller's reply, stored in this transaction)."""
    label = checked_label(label)
    now = rt.clock.now()
    with rt.db.write() as conn:
        if not stored.account_exists(conn, account_id):
            raise NotFound(f"Account {account_id} not found.")
        issued = _issue(conn, account_id, label, now)
        if keep is not None:
            keep(conn, issued)
        return issued


def checked_label(label: str | None) -> str | None:
    """A key's label trimmed (None when blank), or ``InvalidRequest`` naming the field ``label``."""
    if label is None or not label.strip():
        return None
    label = label.strip()
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidRequest(f"label must be at most {MAX_LABEL_LENGTH} characters.", {"field": "label"})
    if any(not ch.isprintable() for ch in label):
        raise InvalidRequest("label must not contain control characters.", {"field": "label"})
    return label


def _issue(conn: Transaction, account_id: int, label: str | None, now: datetime) -> IssuedKey:
    key_id, secret, digest = new_secret(conn, stored.key_id_taken)
    stored.insert_key(conn, key_id, account_id, digest, label, now)
    audit.record(conn, [audit.AuditEntry(AuditAction.KEY_CREATE, account_id, "api_key", key_id)], now)
    return IssuedKey(key_id=key_id, account_id=account_id, api_key=f"sk_{key_id}_{secret}")


def _owned_key(conn: Transaction, key_id: str, owner: int | None) -> stored.StoredKey:
    """The key, or NotFound when it does not exist or (with ``owner``) belongs to another account: both answer
    alike, so an account cannot learn another's key ids."""
    row = stored.key(conn, key_id) if _KEY_ID.fullmatch(key_id) else None
    if row is None or (owner is not None and row.account_id != owner):
        raise NotFound(f"Key {key_id} not found." if _KEY_ID.fullmatch(key_id) else "Key not found.")
    return row


def revoke_key(rt: Runtime, key_id: str) -> None:
    """Revoke a key at once (idempotent)."""
    _revoke(rt, key_id, None)


def revoke_account_key(rt: Runtime, account_id: int, key_id: str) -> None:
    """Revoke one of this account's keys (NotFound for another account's); its console sessions end with it."""
    _revoke(rt, key_id, account_id)


def _revoke(rt: Runtime, key_id: str, owner: int | None) -> None:
    now = rt.clock.now()
    with rt.db.write() as conn:
        row = _owned_key(conn, key_id, owner)
        if row.revoked_at is None:
            stored.set_revoked(conn, key_id, now)
            console.delete_sessions_of_key(conn, key_id)  # signed out everywhere at once
            audit.record(conn, [audit.AuditEntry(AuditAction.KEY_REVOKE, row.account_id, "api_key", key_id)], now)


def rotate_key(
    rt: Runtime, key_id: str, overlap: timedelta, keep: Keep[tuple[IssuedKey, datetime]] | None = None
) -> tuple[IssuedKey, datetime]:
    """Issue a successor for the same account; the old key keeps working for ``overlap``, then expires.

    Returns the new key and the old key's expiry. A key already being rotated (it has an expiry) is refused with
    StateConflict naming its successor: a second successor, and a second overlap, would be silently confusing.
    ``keep``: an idempotent caller's reply, stored in this transaction.
    """
    return _rotate(rt, key_id, overlap, None, keep)


def rotate_account_key(rt: Runtime, account_id: int, key_id: str, overlap: timedelta) -> tuple[IssuedKey, datetime]:
    """``rotate_key`` for one of this account's keys (NotFound for another account's)."""
    return _rotate(rt, key_id, overlap, account_id)


def _rotate(
    rt: Runtime,
    key_id: str,
    overlap: timedelta,
    owner: int | None,
    keep: Keep[tuple[IssuedKey, datetime]] | None = None,
) -> tuple[IssuedKey, datetime]:
    if overlap < timedelta(0):
        raise InvalidRequest("overlap must not be negative.", {"field": "overlap"})
    now = rt.clock.now()
    with rt.db.write() as conn:
        row = _owned_key(conn, key_id, owner)
        refusal = rotation_refusal(row.revoked_at, row.expires_at, now)
        if refusal in (KeyState.REVOKED, KeyState.EXPIRED):
            raise StateConflict(f"Key {key_id} is revoked or expired; create a new key instead.")
        if refusal is KeyState.EXPIRING and row.expires_at is not None:  # expiring: it has an expiry
            # A rotation is pending: a second one would issue a second successor. Refused, naming the first.
            raise StateConflict(_pending_message(conn, key_id, row.expires_at))
        issued = _issue(conn, row.account_id, row.label, now)
        expires_at = now + overlap
        stored.set_expiry(conn, key_id, expires_at)
        audit.record(
            conn,
            [
                audit.AuditEntry(
                    AuditAction.KEY_ROTATE,
                    row.account_id,
                    "api_key",
                    key_id,
                    detail={"successor": issued.key_id, "overlapSeconds": int(overlap.total_seconds())},
                )
            ],
            now,
        )
        if keep is not None:
            keep(conn, (issued, expires_at))
    return issued, expires_at


def _pending_message(conn: Transaction, key_id: str, expires_at: datetime) -> str:
    detail = audit.latest_detail(conn, AuditAction.KEY_ROTATE, key_id)
    successor = json.loads(detail).get("successor") if detail else None
    who = f"its successor is {successor}" if successor else "it has a successor"
    return (
        f"Key {key_id} is already being rotated: {who} and {key_id} expires at {_iso(expires_at)}. "
        f"To end it now: `contactvault admin key revoke {key_id}`; to replace the successor, rotate that key."
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What an operator may see of a key: never the secret or its hash."""

    key_id: str
    account_id: int
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None
    state: str  # active, expiring (rotated, still working), expired, revoked

    def as_json(self) -> dict[str, object]:
        """camelCase JSON; ``prefix`` is how the key starts, enough to recognise it in a config file."""
        return {
            "keyId": self.key_id,
            "accountId": str(self.account_id),
            "prefix": f"sk_{self.key_id}_",
            "label": self.label,
            "createdAt": _iso(self.created_at),
            "lastUsedAt": _iso(self.last_used_at),
            "revokedAt": _iso(self.revoked_at),
            "expiresAt": _iso(self.expires_at),
            "state": self.state,
        }


def list_keys(rt: Runtime, account_id: int | None = None) -> list[KeyInfo]:
    """Every key (of one account, when given), oldest first; NotFound for an unknown account."""
    now = rt.clock.now()
    with rt.db.read() as conn:
        if account_id is not None and not stored.account_exists(conn, account_id):
            raise NotFound(f"Account {account_id} not found.")
        rows = stored.keys(conn, account_id)
    return [_info(r, now) for r in rows]


def _info(r: stored.StoredKey, now: datetime) -> KeyInfo:
    return KeyInfo(
        r.key_id,
        r.account_id,
        r.label,
        r.created_at,
        r.last_used_at,
        r.revoked_at,
        r.expires_at,
        key_state(r.revoked_at, r.expires_at, now).value,
    )


def account_key(rt: Runtime, account_id: int, key_id: str) -> KeyInfo:
    """One of this account's keys (NotFound for an unknown key or another account's)."""
    with rt.db.read() as conn:
        row = _owned_key(conn, key_id, account_id)
    return _info(row, rt.clock.now())


def account_name(rt: Runtime, account_id: int) -> str:
    """The account's name (NotFound for an unknown account)."""
    with rt.db.read() as conn:
        name = stored.account_name(conn, account_id)
    if name is None:
        raise NotFound(f"Account {account_id} not found.")
    return name


def authenticate(rt: Runtime, authorization: str | None) -> int:
    """The account id behind an ``Authorization`` header, or ``InvalidApiKey`` (one error for every failure)."""
    return authenticate_key(rt, authorization).account_id


def authenticate_key(rt: Runtime, authorization: str | None) -> Caller:
    """The key and account behind an ``Authorization`` header, or ``InvalidApiKey`` (one error for every failure).

    The key row comes from the per-process cache while the database has not changed (services/key_cache.py)."""
    key_id, secret = _credentials(authorization)
    marker = rt.db.change_marker()
    row = None if marker is None else rt.key_cache.get(marker, key_id)
    if row is None:
        with rt.db.read() as conn:
            row = stored.key(conn, key_id)
        if row is not None and marker is not None:
            rt.key_cache.put(marker, row)
    return _caller(rt, row, secret)


def cached_caller(rt: Runtime, authorization: str | None) -> Caller | None:
    """``authenticate_key`` when it needs no database read (the key is cached and nothing changed), else None.

    Cheap enough for the event loop: a regular expression, a hash, and ``PRAGMA data_version``."""
    key_id, secret = _credentials(authorization)
    marker = rt.db.change_marker()
    row = None if marker is None else rt.key_cache.get(marker, key_id)
    return None if row is None else _caller(rt, row, secret)


def _credentials(authorization: str | None) -> tuple[str, str]:
    return bearer_credentials(authorization, _KEY)


def bearer_credentials(authorization: str | None, pattern: re.Pattern[str]) -> tuple[str, str]:
    """(key id, secret) of a bearer header whose token ``pattern`` matches (two groups), or ``InvalidApiKey``."""
    if not authorization:
        raise InvalidApiKey()
    scheme, _, token = authorization.strip().partition(" ")
    match = pattern.fullmatch(token.strip()) if scheme.lower() == "bearer" else None
    if match is None:
        raise InvalidApiKey()
    key_id, secret = match.groups()
    return key_id, secret


def _caller(rt: Runtime, row: stored.StoredKey | None, secret: str) -> Caller:
    if (
        row is None
        or not hmac.compare_digest(row.secret_hash, _digest(secret))
        or not key_state(row.revoked_at, row.expires_at, rt.clock.now()).works
    ):
        raise InvalidApiKey()
    return Caller(row.key_id, row.account_id, row.last_used_at)


def touch_due(rt: Runtime, caller: Caller) -> bool:
    """Whether ``touch_key`` would write (no I/O: the event loop may ask)."""
    return caller.last_used_at is None or caller.last_used_at <= rt.clock.now() - LAST_USED_RESOLUTION


def touch_key(rt: Runtime, caller: Caller) -> bool:
    """Record that a key was used, at most once a minute (returns whether it wrote)."""
    return touch_stamp(rt, caller.key_id, caller.last_used_at, stored.touch)


def touch_stamp(rt: Runtime, key_id: str, last_used_at: datetime | None, write: Touch) -> bool:
    """Stamp a key's last use through ``write`` unless the stamp is under a minute old; whether it wrote."""
    now = rt.clock.now()
    stale = now - LAST_USED_RESOLUTION
    if last_used_at is not None and last_used_at > stale:
        return False
    with rt.db.write() as conn:
        return write(conn, key_id, stale, now)
