"""Rate limits per API key and per client IP: fixed 60-second windows counted in a storage.

Windows are aligned to the injectable clock (``floor(now / 60)``), so every process sharing a storage (memory://
in one process, redis:// or database:// across several: ``db/rate_counters.py``) counts the same window, and
tests move time with the fake clock. One atomic increment per limit and request decides: the first L increments
of a window are admitted, so concurrent requests can never admit more than L. A storage outage fails open
(logged): rate limiting protects capacity, it is not an access control.

memory:// is counted here (``MemoryCounters``), other URIs by the ``limits`` library. Its memory storage expires
keys on a ``threading.Timer`` that it starts again every few milliseconds under load (about 6 % of a request's CPU
in the profile, docs/benchmarks.md), where windows that are part of the key only need the counts of older windows
dropped when a new one begins.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from limits.errors import StorageError
from limits.storage import Storage, storage_from_string

from contactvault.server import metrics
from contactvault.server.config import Settings
from contactvault.server.db.rate_counters import DatabaseCounters

log = logging.getLogger("contactvault.ratelimit")

WINDOW_SECONDS = 60
# Counters in a table of the service's own database (``serve --workers N`` picks it when memory:// was configured).
DATABASE_STORAGE = "database://"
KEY_POLICY = "key"
IP_POLICY = "ip"


@dataclass(frozen=True, slots=True)
class Quota:
    """Where one request leaves one limit."""

    policy: str
    limit: int
    remaining: int
    reset_at: int  # Unix seconds at which the window ends
    retry_after: int  # whole seconds until then, at least 1
    allowed: bool
    window: int = WINDOW_SECONDS


class MemoryCounters:
    """Hit counts of the current fixed windows, in this process (the ``memory://`` storage).

    A count lives in its window's dict; when a hit names a newer window, dicts of windows older than the one before
    it are dropped (a request that read the clock just before the turn may still count in the previous window).
    """

    def __init__(self) -> None:
        self._windows: dict[int, dict[str, int]] = {}
        self._lock = threading.Lock()

    def hit(self, name: str, window: int) -> int:
        """Count one hit of ``name`` in ``window``; the count so far, this one included."""
        with self._lock:
            counts = self._windows.get(window)
            if counts is None:
                counts = self._windows[window] = {}
                for old in [w for w in self._windows if w < window - 1]:
                    del self._windows[old]
            used = counts.get(name, 0) + 1
            counts[name] = used
            return used

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._windows.clear()


MEMORY_STORAGE = "memory://"


class RateLimiter:
    """Counts requests per (policy, identity) in fixed windows; a limit of 0 is off."""

    def __init__(
        self,
        storage: Storage | DatabaseCounters | MemoryCounters,
        *,
        per_key: int,
        per_ip: int,
        now: Callable[[], datetime],
        window_seconds: int = WINDOW_SECONDS,
    ) -> None:
        self.storage = storage
        self.limits = {KEY_POLICY: per_key, IP_POLICY: per_ip}
        self.window = window_seconds
        self._now = now

    @classmethod
    def from_settings(cls, settings: Settings, now: Callable[[], datetime]) -> RateLimiter:
        """A limiter on the configured storage."""
        uri = settings.rate_limit_storage
        storage: Storage | DatabaseCounters | MemoryCounters
        if uri == DATABASE_STORAGE:
            storage = DatabaseCounters(settings.database_url)
        elif uri == MEMORY_STORAGE:
            storage = MemoryCounters()
        else:
            found = storage_from_string(uri, wrap_exceptions=True)
            if not isinstance(found, Storage):
                raise ValueError(f"{uri!r} is an asyncio storage; use the synchronous scheme")
            storage = found
        return cls(
            storage,
            per_key=settings.rate_limit_per_key,
            per_ip=settings.rate_limit_per_ip,
            now=now,
            window_seconds=settings.rate_limit_window_seconds,
        )

    @property
    def local(self) -> bool:
        """Whether a hit is counted without a network wait: in this process's memory, or in the SQLite sidecar
        file of ``database://`` (one upsert of microseconds, queued across processes on an flock). Callers on the
        event loop count those in place; a PostgreSQL or Redis storage goes to the thread pool."""
        storage = self.storage
        return isinstance(storage, MemoryCounters) or (isinstance(storage, DatabaseCounters) and storage.is_sqlite)

    def hit_key(self, key_id: str) -> Quota | None:
        """Count one request for an API key (None when that limit is off)."""
        return self._hit(KEY_POLICY, key_id)

    def hit_ip(self, ip: str) -> Quota | None:
        """Count one request for a client address (None when that limit is off)."""
        return self._hit(IP_POLICY, ip)

    def _hit(self, policy: str, identity: str) -> Quota | None:
        limit = self.limits[policy]
        if limit <= 0:
            return None
        now = self._now().timestamp()
        window = int(now // self.window)
        reset_at = (window + 1) * self.window
        retry_after = max(1, math.ceil(reset_at - now))
        used = self._count(f"{policy}/{identity}", window)
        if used is None:
            return None
        if used > limit:
            metrics.RATE_LIMITED.labels(policy=policy).inc()
        return Quota(policy, limit, max(0, limit - used), reset_at, retry_after, used <= limit, self.window)

    def _count(self, name: str, window: int) -> int | None:
        if isinstance(self.storage, MemoryCounters):
            return self.storage.hit(name, window)
        if isinstance(self.storage, DatabaseCounters):
            return self.storage.hit(name, window)  # logs and answers None while its database is down
        try:
            # The window index is part of the key, so the storage expiry only has to outlive the window.
            return int(self.storage.incr(f"contactvault/{name}/{window}", self.window + 1))
        except StorageError as exc:
            log.warning("rate limit storage unavailable (%s); request admitted", type(exc).__name__)
            return None

    def reset(self) -> None:
        """Forget every count (tests, and an operator clearing a storm)."""
        self.storage.reset()

    def close(self) -> None:
        """Release the storage's connections (a database storage holds a pool of its own)."""
        if isinstance(self.storage, DatabaseCounters):
            self.storage.dispose()


def key_headers(quota: Quota) -> list[tuple[bytes, bytes]]:
    """The contract's X-RateLimit-* headers for the key limit."""
    return [
        (b"x-ratelimit-limit", str(quota.limit).encode()),
        (b"x-ratelimit-remaining", str(quota.remaining).encode()),
        (b"x-ratelimit-reset", str(quota.reset_at).encode()),
    ]


def ietf_headers(quotas: Sequence[Quota]) -> list[tuple[bytes, bytes]]:
    """``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers-10 structured fields)."""
    if not quotas:
        return []
    policy = ", ".join(f'"{q.policy}";q={q.limit};w={q.window}' for q in quotas)
    current = ", ".join(f'"{q.policy}";r={q.remaining};t={q.retry_after}' for q in quotas)
    return [(b"ratelimit-policy", policy.encode()), (b"ratelimit", current.encode())]


def retry_after_header(quota: Quota) -> tuple[bytes, bytes]:
    """``Retry-After`` in whole seconds."""
    return (b"retry-after", str(quota.retry_after).encode())
