"""Accounts and API keys: create, revoke, authenticate (keys are stored only as SHA-256 hashes)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from contactvault.server.db import audit
from contactvault.server.db.tables import accounts, api_keys
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InvalidApiKey, NotFound
from contactvault.server.runtime import Runtime

_KEY = re.compile(r"(?:sk|uak)_([0-9a-f]{8})_([A-Za-z0-9_-]{16,128})")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key; ``api_key`` is shown once and never stored."""

    key_id: str
    account_id: int
    api_key: str


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create_account(rt: Runtime, name: str) -> int:
    """Create an account and return its id."""
    now = rt.clock.now()
    account_id = rt.ids.new_id()
    with rt.db.write() as conn:
        conn.execute(insert(accounts).values(id=account_id, name=name, created_at=now))
        audit.record(
            conn, [audit.AuditEntry(AuditAction.ACCOUNT_CREATE, account_id, "account", str(account_id))], now
        )
    return account_id


def create_key(rt: Runtime, account_id: int, label: str | None = None) -> IssuedKey:
    """Issue a key for an account."""
    now = rt.clock.now()
    with rt.db.write() as conn:
        if conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
            raise NotFound(f"Account {account_id} not found.")
        while True:
            key_id = secrets.token_hex(4)
            taken = conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id)).first()
            if taken is None:
                break
        secret = secrets.token_urlsafe(32)
        conn.execute(
            insert(api_keys).values(
                id=key_id, account_id=account_id, secret_hash=_digest(secret), label=label, created_at=now
            )
        )
        audit.record(conn, [audit.AuditEntry(AuditAction.KEY_CREATE, account_id, "api_key", key_id)], now)
    return IssuedKey(key_id=key_id, account_id=account_id, api_key=f"sk_{key_id}_{secret}")


def revoke_key(rt: Runtime, key_id: str) -> None:
    """Revoke a key at once (idempotent)."""
    now = rt.clock.now()
    with rt.db.write() as conn:
        row = conn.execute(
            select(api_keys.c.account_id, api_keys.c.revoked_at).where(api_keys.c.id == key_id)
        ).first()
        if row is None:
            raise NotFound(f"Key {key_id} not found.")
        if row.revoked_at is None:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))
            audit.record(
                conn, [audit.AuditEntry(AuditAction.KEY_REVOKE, row.account_id, "api_key", key_id)], now
            )


def authenticate(rt: Runtime, authorization: str | None) -> int:
    """The account id behind an ``Authorization`` header, or ``InvalidApiKey`` (one error for every failure)."""
    if not authorization:
        raise InvalidApiKey()
    scheme, _, token = authorization.strip().partition(" ")
    match = _KEY.fullmatch(token.strip()) if scheme.lower() == "bearer" else None
    if match is None:
        raise InvalidApiKey()
    key_id, secret = match.groups()
    with rt.db.read() as conn:
        row = conn.execute(
            select(
                api_keys.c.account_id, api_keys.c.secret_hash, api_keys.c.revoked_at, api_keys.c.expires_at
            ).where(api_keys.c.id == key_id)
        ).first()
    now = rt.clock.now()
    if (
        row is None
        or not hmac.compare_digest(row.secret_hash, _digest(secret))
        or (row.revoked_at is not None and row.revoked_at <= now)
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        raise InvalidApiKey()
    return int(row.account_id)
