"""Idempotency keys: the first response to (account, key) is stored and replayed byte for byte for 24 h.

A key is claimed in its own short transaction (state ``in_progress``) so that a concurrent duplicate can be
told 409; the response is stored by the use case's own transaction, so a task and its stored response commit
together. A request that fails (validation, 402, 404) gives its claim back: nothing is stored.

A claim older than ``idempotency_stale_seconds`` is taken over (its request is presumed dead). The claim is fenced
like a worker lease: its ``created_at`` is its token (a take-over always writes a later one), and ``complete`` and
``abandon`` act only while the token is still the row's. A slow first request that finishes after a take-over
gets 409 and its whole transaction (task, hold, reply) rolls back, so one key still has at most one effect.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from contactvault.server.db.tables import idempotency_keys
from contactvault.server.domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from contactvault.server.runtime import Runtime


def encode(body: dict[str, Any]) -> bytes:
    """The exact bytes sent for a stored response."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(*parts: str | bytes) -> bytes:
    """A digest of everything that makes two requests "the same"."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.digest()


@dataclass(frozen=True, slots=True)
class Replay:
    """A stored response to send again."""

    status_code: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """This request owns the key until it completes or gives it back, unless the claim is taken over."""

    account_id: int
    key: str
    ttl: timedelta
    token: datetime  # the row's created_at when this claim was made

    def owned(self) -> ColumnElement[bool]:
        """The key's row, as long as this claim still owns it."""
        return (
            (idempotency_keys.c.account_id == self.account_id)
            & (idempotency_keys.c.key == self.key)
            & (idempotency_keys.c.state == "in_progress")
            & (idempotency_keys.c.created_at == self.token)
        )

    def complete(self, conn: Connection, status_code: int, body: dict[str, Any], now: datetime) -> None:
        """Store the response in the caller's transaction; raises (rolling it back) if the claim was taken over."""
        result = conn.execute(
            update(idempotency_keys)
            .where(self.owned())
            .values(
                state="completed",
                status_code=status_code,
                response_body=encode(body),
                expires_at=now + self.ttl,
            )
        )
        if result.rowcount != 1:
            raise IdempotencyKeyInUse()


def begin(rt: Runtime, account_id: int, key: str, digest: bytes) -> Claim | Replay:
    """Claim the key for this request, or return the response to replay; raises on misuse."""
    now = rt.clock.now()
    ttl = timedelta(seconds=rt.settings.idempotency_ttl_seconds)
    stale = timedelta(seconds=rt.settings.idempotency_stale_seconds)
    where = (idempotency_keys.c.account_id == account_id) & (idempotency_keys.c.key == key)
    for _ in range(3):
        try:
            with rt.db.write() as conn:
                row = conn.execute(select(idempotency_keys).where(where).with_for_update()).first()
                if row is not None and row.expires_at <= now:
                    conn.execute(delete(idempotency_keys).where(where))
                    row = None
                if row is None:
                    conn.execute(
                        insert(idempotency_keys).values(
                            account_id=account_id,
                            key=key,
                            fingerprint=digest,
                            state="in_progress",
                            created_at=now,
                            expires_at=now + ttl,
                        )
                    )
                    return Claim(account_id, key, ttl, now)
                if row.fingerprint != digest:
                    raise IdempotencyKeyReused()
                if row.state == "completed":
                    return Replay(int(row.status_code), bytes(row.response_body))
                if row.created_at > now - stale:
                    raise IdempotencyKeyInUse()
                # The first request died mid-flight (or is very slow): take the key over with a later token, which
                # fences the first claim out of complete() and abandon().
                conn.execute(update(idempotency_keys).where(where).values(created_at=now))
                return Claim(account_id, key, ttl, now)
        except IntegrityError:
            continue  # a concurrent first use won the insert (PostgreSQL); read what it wrote
    raise IdempotencyKeyInUse()


def abandon(rt: Runtime, claim: Claim) -> None:
    """Give an unused claim back (the request failed before storing a response); a taken-over claim is not ours."""
    with rt.db.write() as conn:
        conn.execute(delete(idempotency_keys).where(claim.owned()))


def purge_expired(rt: Runtime) -> int:
    """Delete expired records; returns how many."""
    with rt.db.write() as conn:
        result = conn.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at <= rt.clock.now()))
    return int(result.rowcount)
