"""A small TTL cache on the injectable clock: MX answers, catch-all verdicts.

``Cache`` is what the adapters need; ``worker/mail/shared.py`` implements it over the database for scale-out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from contactvault.server.clock import Clock

K = TypeVar("K")
V = TypeVar("V")
K_contra = TypeVar("K_contra", contravariant=True)


class Cache(Protocol[K_contra, V]):
    """Values kept for a TTL: in this process (``TtlCache``) or shared by every worker."""

    def get(self, key: K_contra) -> V | None:
        """The value stored for ``key`` if it has not expired."""
        ...

    def put(self, key: K_contra, value: V, ttl_seconds: float) -> None:
        """Store ``value`` for ``ttl_seconds`` (a non-positive TTL stores nothing)."""
        ...


class TtlCache(Generic[K, V]):
    """Values that expire a given number of seconds after they were stored; in-process, bounded."""

    def __init__(self, clock: Clock, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[K, tuple[datetime, V]] = {}

    def get(self, key: K) -> V | None:
        """The value stored for ``key`` if it has not expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if self._clock.now() >= expires_at:
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V, ttl_seconds: float) -> None:
        """Store ``value`` for ``ttl_seconds`` (a non-positive TTL stores nothing)."""
        if ttl_seconds <= 0:
            return
        if len(self._entries) >= self._max_entries and key not in self._entries:
            # Dicts keep insertion order: drop the oldest entry.
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self._clock.now() + timedelta(seconds=ttl_seconds), value)

    def __len__(self) -> int:
        return len(self._entries)
