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

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from contactvault.server.db import idempotency as stored
from contactvault.server.db.engine import StorageError, Transaction
from contactvault.server.db.errors import AlreadyExists
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

    def complete(self, conn: Transaction, status_code: int, body: dict[str, Any], now: datetime) -> None:
        """Store the response in the caller's transaction; raises (rolling it back) if the claim was taken over."""
        stored_it = stored.complete(
            conn,
            self.account_id,
            self.key,
            self.token,
            status_code=status_code,
            body=encode(body),
            expires_at=now + self.ttl,
        )
        if not stored_it:
            raise IdempotencyKeyInUse()


def begin(rt: Runtime, account_id: int, key: str, digest: bytes) -> Claim | Replay:
    """Claim the key for this request, or return the response to replay; raises on misuse."""
    now = rt.clock.now()
    ttl = timedelta(seconds=rt.settings.idempotency_ttl_seconds)
    stale = timedelta(seconds=rt.settings.idempotency_stale_seconds)
    for _ in range(3):
        try:
            with rt.db.write() as conn:
                row = stored.lock(conn, account_id, key)
                if row is not None and row.expires_at <= now:
                    stored.forget(conn, account_id, key)
                    row = None
                if row is None:
                    stored.claim(conn, account_id, key, digest, now, now + ttl)
                    return Claim(account_id, key, ttl, now)
                if row.fingerprint != digest:
                    raise IdempotencyKeyReused()
                if row.state == "completed":
                    return Replay(int(row.status_code or 0), row.response_body or b"")
                if row.created_at > now - stale:
                    raise IdempotencyKeyInUse()
                # The first request died mid-flight (or is very slow): take the key over with a later token, which
                # fences the first claim out of complete() and abandon().
                stored.take_over(conn, account_id, key, now)
                return Claim(account_id, key, ttl, now)
        except AlreadyExists:
            continue  # a concurrent first use won the insert (PostgreSQL); read what it wrote
    raise IdempotencyKeyInUse()


def abandon(rt: Runtime, claim: Claim) -> None:
    """Give an unused claim back (the request failed before storing a response); a taken-over claim is not ours."""
    with rt.db.write() as conn:
        stored.release(conn, claim.account_id, claim.key, claim.token)


def purge_expired(rt: Runtime) -> int:
    """Delete expired records; returns how many."""
    with rt.db.write() as conn:
        return stored.purge_expired(conn, rt.clock.now())


def keyed_fingerprint(rt: Runtime, *parts: str | bytes) -> bytes:
    """``fingerprint`` under the lookup-hash key: for requests that carry personal data (an opt-out's email), whose
    plain digest could be tested against guessed addresses."""
    return rt.cipher.lookup_hash("idempotency", fingerprint(*parts).hex())


def store(rt: Runtime, claim: Claim, status_code: int, body: dict[str, Any]) -> None:
    """Store a reply in its own transaction, for a use case whose effect is idempotent by nature (revoking twice,
    suppressing twice): a crash before this leaves the claim to go stale, and the retry that takes it over does
    the same thing again."""
    with rt.db.write() as conn:
        claim.complete(conn, status_code, body, rt.clock.now())


T = TypeVar("T")
Reply = tuple[int, dict[str, Any]]
# What a use case given a ``keep`` calls inside its own write transaction, with its result, before the commit.
Keep = Callable[[Transaction, T], None]


def run_keyed(
    rt: Runtime,
    scope_id: int,
    key: str,
    digest: bytes,
    act: Callable[[Keep[T] | None], T],
    render: Callable[[T], Reply],
    *,
    atomic: bool,
    kept: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Reply | Replay:
    """Run ``act`` under an idempotency key: the stored reply to replay, or ``render`` of a first run's result.

    ``atomic``: ``act`` passes the ``keep`` it is given to a use case that calls it in its own transaction, so the
    effect and the stored reply commit together; else the reply is stored just after (``store``). ``kept``: what of
    the reply is stored for a replay (a new key's secret never is). A run that raises gives the key back.
    """
    claim = begin(rt, scope_id, key, digest)
    if isinstance(claim, Replay):
        return claim
    keeping = kept or (lambda body: body)
    try:
        if atomic:

            def keep(conn: Transaction, result: T) -> None:
                status, body = render(result)
                claim.complete(conn, status, keeping(body), rt.clock.now())

            return render(act(keep))
        status, body = render(act(None))
        store(rt, claim, status, keeping(body))
    except Exception:
        with contextlib.suppress(StorageError):
            abandon(rt, claim)
        raise
    return status, body
