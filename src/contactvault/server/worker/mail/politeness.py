"""Politeness per mail provider: sessions at once, a gap between session starts, a budget per window, blocks.

Keyed by the provider (the registrable domain of the MX host), not the recipient domain: thousands of domains share
Google's or Microsoft's MXs. A caller that would wait longer than ``max_wait_seconds`` is not kept waiting: it gets
``PolitenessDeferred(retry_after)`` so the worker can re-queue the item instead of sleeping on its lease.

``InProcessLimiter`` holds its state in this process (the embedded mode). Scale-out needs the same contract over
shared state (docs/verification.md): any object with ``session(key)`` and ``block(key, seconds)`` fits.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from contactvault.server.config import Settings

# Public suffixes of two labels that registrable domains sit under (co.uk, com.au...). A short list on purpose: a
# wrong guess only merges or splits two providers' limits; a Public Suffix List library can replace it.
_TWO_LABEL_SUFFIXES = frozenset(
    {"co.uk", "org.uk", "ac.uk", "gov.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp", "ne.jp", "or.jp"}
    | {"com.br", "com.cn", "com.mx", "co.in", "co.za", "com.tr", "com.sg", "com.hk", "co.kr", "com.tw"}
)


def provider_key(mx_host: str) -> str:
    """The registrable domain of an MX host: ``aspmx.l.google.com`` -> ``google.com``."""
    labels = [label for label in mx_host.lower().rstrip(".").split(".") if label]
    take = 3 if len(labels) >= 3 and ".".join(labels[-2:]) in _TWO_LABEL_SUFFIXES else 2
    return ".".join(labels[-take:])


class PolitenessDeferred(Exception):
    """The provider's limits do not allow a session soon enough: retry after ``retry_after`` seconds."""

    def __init__(self, key: str, retry_after: float) -> None:
        super().__init__(f"mail provider {key}: no session slot for {retry_after:.1f} s")
        self.key = key
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ProviderLimits:
    """The limits every provider key gets."""

    concurrency: int = 1
    gap_seconds: float = 2.0
    budget: int = 100
    window_seconds: float = 3600.0
    max_wait_seconds: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderLimits:
        """The limits the settings describe."""
        return cls(
            settings.smtp_provider_concurrency,
            settings.smtp_provider_gap_seconds,
            settings.smtp_provider_budget,
            settings.smtp_provider_window_seconds,
        )


class PolitenessLimiter(Protocol):
    """What the prober needs from a limiter (in-process now; Redis or the database in scale-out)."""

    def session(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold one session slot of ``key`` (waiting briefly) or raise ``PolitenessDeferred``."""
        ...

    async def block(self, key: str, seconds: float) -> None:
        """No new session for ``key`` for ``seconds`` (after a policy block or a 421)."""
        ...

    async def connected(self, key: str) -> None:
        """A session of ``key`` has its connection open now: the provider saw it start no earlier, so sessions
        reserved from now on keep the gap from this moment when it is later than the start granted."""
        ...


@dataclass
class _KeyState:
    active: int = 0
    last_start: float = -math.inf
    blocked_until: float = -math.inf
    starts: deque[float] = field(default_factory=deque)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)


class InProcessLimiter:
    """Per-key limits for the sessions of one process (one event loop)."""

    def __init__(
        self,
        limits: ProviderLimits,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self._now = now
        self._sleep = sleep
        self._keys: dict[str, _KeyState] = {}

    @contextlib.asynccontextmanager
    async def session(self, key: str) -> AsyncIterator[None]:
        """Hold one session slot of ``key``; the slot counts from its reservation to the end of the block."""
        state = self._keys.setdefault(key, _KeyState())
        wait = await self._reserve(key, state)
        try:
            if wait > 0:
                await self._sleep(wait)
                # A busy loop wakes the sleeper late: the provider sees the real start, so the gap counts from it.
                state.last_start = max(state.last_start, self._now())
            yield
        finally:
            async with state.changed:
                state.active -= 1
                state.changed.notify()

    async def block(self, key: str, seconds: float) -> None:
        """No new session for ``key`` for ``seconds``."""
        state = self._keys.setdefault(key, _KeyState())
        state.blocked_until = max(state.blocked_until, self._now() + seconds)

    async def connected(self, key: str) -> None:
        """The session's connection is open: a process held up between the grant and the connection (a loaded
        machine) started it late as the provider sees it, so the next gap counts from now if that is later."""
        state = self._keys.setdefault(key, _KeyState())
        state.last_start = max(state.last_start, self._now())

    async def _reserve(self, key: str, state: _KeyState) -> float:
        limits = self.limits
        async with state.changed:
            self._check_block(key, state)
            if state.active >= limits.concurrency:
                try:
                    async with asyncio.timeout(limits.max_wait_seconds):
                        await state.changed.wait_for(lambda: state.active < limits.concurrency)
                except TimeoutError:
                    raise PolitenessDeferred(key, max(limits.gap_seconds, limits.max_wait_seconds)) from None
                self._check_block(key, state)
            now = self._now()
            while state.starts and state.starts[0] <= now - limits.window_seconds:
                state.starts.popleft()
            start = max(now, state.last_start + limits.gap_seconds)
            if len(state.starts) >= limits.budget:
                # The window must hold fewer than `budget` starts: wait for the one that makes room to age out.
                start = max(start, state.starts[len(state.starts) - limits.budget] + limits.window_seconds)
            wait = start - now
            if wait > limits.max_wait_seconds:
                raise PolitenessDeferred(key, wait)
            state.last_start = start
            state.starts.append(start)
            state.active += 1
            return wait

    def _check_block(self, key: str, state: _KeyState) -> None:
        remaining = state.blocked_until - self._now()
        if remaining > 0:
            raise PolitenessDeferred(key, remaining)
