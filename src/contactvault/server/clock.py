"""Time and randomness come from here, so tests can control both."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time (timezone-aware UTC)."""

    def now(self) -> datetime:
        """The current instant."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current instant."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        """The frozen instant."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self._now += timedelta(seconds=seconds)


class IdSource:
    """Unguessable 63-bit ids (tasks, accounts) and jitter; seeded in tests."""

    def __init__(self, seed: int | None = None) -> None:
        self.random: random.Random = random.Random(seed) if seed is not None else secrets.SystemRandom()

    def new_id(self) -> int:
        """A random positive 63-bit integer."""
        return self.random.getrandbits(63) or 1
