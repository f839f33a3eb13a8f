"""Guards in front of an external provider: a circuit breaker and a call budget (pure state machines; the caller
passes the time, so tests move a fake clock instead of sleeping).

Breaker: closed → (``threshold`` failures in a row) → open for ``open_seconds`` → half-open: one trial call; its
success closes the circuit, its failure opens it again for another ``open_seconds``. While open, and while the
trial is in flight, ``allow`` says no and the caller answers at once without calling.

Budget: at most ``calls`` calls in any window of ``window_seconds`` (a sliding log of the calls' times).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from enum import StrEnum


class BreakerState(StrEnum):
    """Where a circuit stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """One provider's circuit."""

    def __init__(self, threshold: int, open_seconds: float) -> None:
        if threshold < 1 or open_seconds <= 0:
            raise ValueError("a breaker needs threshold >= 1 and open_seconds > 0")
        self.threshold = threshold
        self.open_for = timedelta(seconds=open_seconds)
        self.failures = 0
        self._opened_at: datetime | None = None
        self._trial_in_flight = False

    def state(self, now: datetime) -> BreakerState:
        """The state at ``now`` (an open circuit whose time is up reads as half-open)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if now - self._opened_at < self.open_for:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def allow(self, now: datetime) -> bool:
        """Whether a call may be made now; in half-open, only one trial call at a time."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self._trial_in_flight:
            return False
        self._trial_in_flight = True
        return True

    def record_success(self) -> None:
        """A call that reached a working provider (any answer but a breaker failure): close the circuit."""
        self.failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self, now: datetime) -> None:
        """A transport error, timeout or 5xx: count it; the threshold (or a failed trial) opens the circuit."""
        self.failures += 1
        if self._trial_in_flight or self.failures >= self.threshold:
            self._opened_at = now
            self._trial_in_flight = False

    def retry_in(self, now: datetime) -> float:
        """Seconds until an open circuit lets a trial through (0 when it would now)."""
        if self._opened_at is None:
            return 0.0
        return max((self._opened_at + self.open_for - now).total_seconds(), 0.0)


class CallBudget:
    """At most ``calls`` calls in any ``window_seconds``."""

    def __init__(self, calls: int, window_seconds: float) -> None:
        if calls < 1 or window_seconds <= 0:
            raise ValueError("a budget needs calls >= 1 and window_seconds > 0")
        self.calls = calls
        self.window = timedelta(seconds=window_seconds)
        self._spent: deque[datetime] = deque()

    def _forget_before(self, now: datetime) -> None:
        while self._spent and now - self._spent[0] >= self.window:
            self._spent.popleft()

    def remaining(self, now: datetime) -> int:
        """Calls still allowed at ``now``."""
        self._forget_before(now)
        return self.calls - len(self._spent)

    def try_spend(self, now: datetime) -> bool:
        """Take one call from the budget; False (and nothing taken) when it is spent."""
        if self.remaining(now) <= 0:
            return False
        self._spent.append(now)
        return True
