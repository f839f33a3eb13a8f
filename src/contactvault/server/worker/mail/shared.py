"""Politeness and mail caches shared by every worker, over the database (docs/verification.md, "Scale-out").

``DatabaseLimiter`` is the ``PolitenessLimiter`` of several workers: each provider key's concurrency, gap and budget
are decided under that key's row lock (``db/mail_state.py``), and each session holds a slot row leased until the
session deadline plus a margin, so a worker that dies mid-session frees its slot when the lease ends. The budget is
a fixed window (at most ``budget`` starts from the window's first start until ``window_seconds`` later), coarser
than the in-process sliding window and never looser within one window. Its time is the wall clock (every worker's
clock must agree, as for leases), not the injectable one; the caches use the injectable clock like ``TtlCache``.

``DatabaseCache`` keeps MX answers, catch-all verdicts and probe local parts in ``mail_cache``, so a second worker
asks no DNS question and sends no catch-all probe that a first one answered within the TTL. Its reads are a
primary-key lookup made on the event loop's thread (the adapters' cache interface is synchronous).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from contactvault.server.clock import Clock
from contactvault.server.config import Settings
from contactvault.server.db import mail_state
from contactvault.server.db.engine import Database
from contactvault.server.worker.mail.dns import MailDomain, MailHost, MailStatus
from contactvault.server.worker.mail.politeness import PolitenessDeferred, ProviderLimits
from contactvault.server.worker.mail.smtp import CatchAll

V = TypeVar("V")

# How often a caller waiting for a busy provider's slot asks again (within the limits' max_wait_seconds).
SLOT_POLL_SECONDS = 0.05
# A slot outlives its session's deadline by this much before another worker may take it over.
SLOT_LEASE_MARGIN_SECONDS = 5.0


def uses_database(settings: Settings, db: Database) -> bool:
    """Whether politeness and the mail caches live in the database: asked for, or "auto" on PostgreSQL (where
    several workers may run); SQLite is the embedded mode with one worker, whose memory is enough."""
    if settings.mail_shared_state == "auto":
        return not db.is_sqlite
    return settings.mail_shared_state == "database"


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class DatabaseLimiter:
    """Per-provider limits shared by every worker on the database."""

    def __init__(
        self,
        db: Database,
        limits: ProviderLimits,
        lease_seconds: float,
        now: Callable[[], datetime] = _wall_clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.limits = limits
        self.lease = timedelta(seconds=lease_seconds)
        self._now = now
        self._sleep = sleep
        self._rng = rng or random.SystemRandom()

    @contextlib.asynccontextmanager
    async def session(self, key: str) -> AsyncIterator[None]:
        """Hold one session slot of ``key`` (waiting up to ``max_wait_seconds``) or raise ``PolitenessDeferred``."""
        slot, wait = await self._reserve(key)
        try:
            await self._sleep(wait)
            yield
        finally:
            # A short delete, made even when the session was cancelled; if it fails the lease frees the slot.
            with contextlib.suppress(Exception), self.db.write() as conn:
                mail_state.end_session(conn, slot)

    async def connected(self, key: str) -> None:
        """The session's connection is open: a busy loop, a slow write or a descheduled process starts a session
        later than reserved, and the provider sees the connection, so the next gap counts from now if later."""
        await asyncio.to_thread(self._note_start, key)

    def _note_start(self, key: str) -> None:
        with self.db.write() as conn:
            mail_state.note_start(conn, key, self._now())

    async def block(self, key: str, seconds: float) -> None:
        """No new session for ``key`` for ``seconds``, for every worker."""
        until = self._now() + timedelta(seconds=seconds)

        def write() -> None:
            with self.db.write() as conn:
                mail_state.block_provider(conn, key, until)

        await asyncio.to_thread(write)

    async def _reserve(self, key: str) -> tuple[int, float]:
        deadline = time.monotonic() + self.limits.max_wait_seconds
        while True:
            reserved = await asyncio.to_thread(self._try_reserve, key)
            if reserved is not None:
                return reserved
            if time.monotonic() >= deadline:
                raise PolitenessDeferred(key, max(self.limits.gap_seconds, self.limits.max_wait_seconds))
            await self._sleep(SLOT_POLL_SECONDS)

    def _try_reserve(self, key: str) -> tuple[int, float] | None:
        """A slot and how long to wait before starting; None while every slot is taken. Reserves nothing when it
        raises ``PolitenessDeferred`` (the transaction rolls back)."""
        limits = self.limits
        with self.db.write() as conn:
            now = self._now()
            state = mail_state.lock_provider(conn, key, now)
            if state.blocked_until is not None and state.blocked_until > now:
                raise PolitenessDeferred(key, (state.blocked_until - now).total_seconds())
            if state.active >= limits.concurrency:
                return None
            start = now
            if state.last_start is not None:
                start = max(start, state.last_start + timedelta(seconds=limits.gap_seconds))
            window = timedelta(seconds=limits.window_seconds)
            window_start, count = state.window_start, state.window_count
            if window_start is None or start >= window_start + window:
                window_start, count = start, 0
            elif count >= limits.budget:
                window_start, count = window_start + window, 0
                start = max(start, window_start)
            wait = (start - now).total_seconds()
            if wait > limits.max_wait_seconds:
                raise PolitenessDeferred(key, wait)
            slot = self._rng.getrandbits(63) or 1
            mail_state.start_session(conn, key, slot, start, start + self.lease, (window_start, count + 1))
            return slot, wait


class DatabaseCache(Generic[V]):
    """A ``Cache`` of one kind of value in ``mail_cache``, on the injectable clock."""

    def __init__(
        self, db: Database, clock: Clock, kind: str, encode: Callable[[V], str], decode: Callable[[str], V]
    ) -> None:
        self.db = db
        self.clock = clock
        self.kind = kind
        self._encode = encode
        self._decode = decode

    def get(self, key: str) -> V | None:
        """The value stored for ``key`` if it has not expired."""
        with self.db.read() as conn:
            text = mail_state.cached(conn, self.kind, key, self.clock.now())
        return None if text is None else self._decode(text)

    def put(self, key: str, value: V, ttl_seconds: float) -> None:
        """Store ``value`` for ``ttl_seconds`` (a non-positive TTL stores nothing)."""
        if ttl_seconds <= 0:
            return
        expires_at = self.clock.now() + timedelta(seconds=ttl_seconds)
        with self.db.write() as conn:
            mail_state.store(conn, self.kind, key, self._encode(value), expires_at)


def _encode_domain(domain: MailDomain) -> str:
    hosts = [[h.name, h.preference, list(h.addresses)] for h in domain.hosts]
    return json.dumps({"d": domain.domain, "s": domain.status.value, "h": hosts, "t": domain.ttl_seconds})


def _decode_domain(text: str) -> MailDomain:
    data = json.loads(text)
    hosts = tuple(MailHost(str(n), int(p), tuple(str(a) for a in addrs)) for n, p, addrs in data["h"])
    return MailDomain(str(data["d"]), MailStatus(data["s"]), hosts, int(data["t"]))


def mx_cache(db: Database, clock: Clock) -> DatabaseCache[MailDomain]:
    """MX answers per domain (ASCII form)."""
    return DatabaseCache(db, clock, "mx", _encode_domain, _decode_domain)


def catch_all_caches(db: Database, clock: Clock) -> tuple[DatabaseCache[CatchAll], DatabaseCache[str]]:
    """Catch-all verdicts and probe local parts per domain, as ``SmtpProber`` takes them."""
    return (
        DatabaseCache(db, clock, "catch_all", lambda v: v.value, CatchAll),
        DatabaseCache(db, clock, "probe_local", lambda v: v, lambda v: v),
    )


def verdict_cache(db: Database, clock: Clock) -> DatabaseCache[str]:
    """Per-address SMTP verdicts, keyed by the address's keyed hash (never the address)."""
    return DatabaseCache(db, clock, "verdict", lambda v: v, lambda v: v)
