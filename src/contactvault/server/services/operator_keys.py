"""Operator keys: create, list, revoke, authenticate (stored only as SHA-256 hashes), and the audit row of each
operator API call.

An operator key (``cvop_<8 hex>_<secret>``) is not an account's: it reaches the operator API (``/admin/v1``) only,
within its scopes, and a customer key (``sk_``) never reaches that API.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from contactvault.server.db import audit
from contactvault.server.db import operator_keys as stored
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InvalidApiKey, NotFound, ScopeRequired
from contactvault.server.domain.operators import OperatorScope, parse_scopes
from contactvault.server.runtime import Runtime
from contactvault.server.services.accounts import bearer_credentials, checked_label, new_secret, touch_stamp

PREFIX = "cvop"
_KEY = re.compile(r"cvop_([0-9a-f]{8})_([A-Za-z0-9_-]{16,128})")
_KEY_ID = re.compile(r"[0-9a-f]{8}")


@dataclass(frozen=True, slots=True)
class IssuedOperatorKey:
    """A new operator key; ``api_key`` is shown once and never stored."""

    key_id: str
    scopes: tuple[OperatorScope, ...]
    api_key: str


@dataclass(frozen=True, slots=True)
class OperatorCaller:
    """Who a valid operator key is, and what it may do."""

    key_id: str
    scopes: frozenset[str]
    last_used_at: datetime | None

    def require(self, scope: OperatorScope) -> None:
        """``ScopeRequired`` unless this key holds ``scope``."""
        if scope.value not in self.scopes:
            raise ScopeRequired(scope.value)


@dataclass(frozen=True, slots=True)
class OperatorKeyInfo:
    """What may be shown of an operator key: never the secret or its hash."""

    key_id: str
    scopes: tuple[str, ...]
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def as_json(self) -> dict[str, object]:
        """camelCase JSON; ``prefix`` is how the key starts."""
        return {
            "keyId": self.key_id,
            "prefix": f"{PREFIX}_{self.key_id}_",
            "scopes": list(self.scopes),
            "label": self.label,
            "createdAt": _iso(self.created_at),
            "lastUsedAt": _iso(self.last_used_at),
            "revokedAt": _iso(self.revoked_at),
            "state": "revoked" if self.revoked_at is not None else "active",
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create(rt: Runtime, scopes: list[str], label: str | None = None) -> IssuedOperatorKey:
    """Issue an operator key with these scopes (``InvalidRequest`` naming ``scope`` or ``label``)."""
    granted = parse_scopes(scopes)
    label = checked_label(label)
    now = rt.clock.now()
    with rt.db.write() as conn:
        key_id, secret, digest = new_secret(conn, stored.id_taken)
        stored.insert_key(conn, key_id, digest, tuple(s.value for s in granted), label, now)
        entry = audit.AuditEntry(
            AuditAction.OPERATOR_KEY_CREATE, None, "operator_key", key_id, detail={"scopes": [s.value for s in granted]}
        )
        audit.record(conn, [entry], now)
    return IssuedOperatorKey(key_id, granted, f"{PREFIX}_{key_id}_{secret}")


def list_keys(rt: Runtime) -> list[OperatorKeyInfo]:
    """Every operator key, oldest first."""
    with rt.db.read() as conn:
        rows = stored.keys(conn)
    return [OperatorKeyInfo(r.key_id, r.scopes, r.label, r.created_at, r.last_used_at, r.revoked_at) for r in rows]


def revoke(rt: Runtime, key_id: str) -> None:
    """Revoke an operator key at once (idempotent; NotFound for an unknown id)."""
    now = rt.clock.now()
    with rt.db.write() as conn:
        row = stored.key(conn, key_id) if _KEY_ID.fullmatch(key_id) else None
        if row is None:
            raise NotFound("Operator key not found.")
        if row.revoked_at is None:
            stored.set_revoked(conn, key_id, now)
            audit.record(conn, [audit.AuditEntry(AuditAction.OPERATOR_KEY_REVOKE, None, "operator_key", key_id)], now)


def authenticate(rt: Runtime, authorization: str | None) -> OperatorCaller:
    """The operator key behind an ``Authorization`` header, or ``InvalidApiKey`` (one error for every failure,
    a customer key included)."""
    key_id, secret = bearer_credentials(authorization, _KEY)
    with rt.db.read() as conn:
        row = stored.key(conn, key_id)
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
        raise InvalidApiKey()
    return OperatorCaller(key_id, frozenset(row.scopes), row.last_used_at)


def touch(rt: Runtime, caller: OperatorCaller) -> bool:
    """Record that an operator key was used, at most once a minute (returns whether it wrote)."""
    return touch_stamp(rt, caller.key_id, caller.last_used_at, stored.touch)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One operator API call as audited: never a personal value. ``operation`` names what was asked
    (``credits_grant``), ``account_id`` whom it concerned, ``target`` what it acted on (a key id, ``email``)."""

    operation: str
    status: int
    account_id: int | None = None
    target: str | None = None
    credits: int | None = None


def record_call(rt: Runtime, caller: OperatorCaller, call: CallRecord, trace_id: str | None) -> None:
    """Write the audit row of one operator API call (its own transaction, after the call's)."""
    detail: dict[str, object] = {"operation": call.operation, "status": call.status}
    if call.target is not None:
        detail["target"] = call.target
    entry = audit.AuditEntry(
        AuditAction.OPERATOR_CALL, call.account_id, "operator_key", caller.key_id, call.credits, detail
    )
    with rt.db.write() as conn:
        audit.record(conn, [entry], rt.clock.now(), trace_id)


IDEMPOTENCY_SCOPE_BASE = -1


def idempotency_scope(caller: OperatorCaller) -> int:
    """The idempotency records' ``account_id`` for this operator key: negative, so never an account's (account ids
    are positive), and one per key, so two operator systems never share a key space."""
    return IDEMPOTENCY_SCOPE_BASE - int(caller.key_id, 16)
