"""When and how long the SDK retries a request.

The policy is data (``RetryPolicy``) plus one pure decision function (``retry_decision``) handed to stamina,
which owns the loop, the capped jittered exponential backoff and the testing switch
(``stamina.set_testing(True)`` turns every backoff, including server hints, into zero).

Rules:

* retried: connection errors and timeouts, 429 (after ``Retry-After`` / ``X-RateLimit-Reset``), 502/503/504
  (after ``Retry-After`` when given), and 409 ``IDEMPOTENCY_KEY_IN_USE`` (the first request with that key is
  still executing, so asking again shortly returns its stored answer);
* never retried: every other 4xx (400, 401, 402, 404, 409 ``STATE_CONFLICT``, 422) and 500;
* a POST is retried only when it carries an Idempotency-Key, so a retry can never create a second task;
* a server hint longer than ``max_retry_after`` is not waited for: the error is raised so the caller decides.

Before each retry the client's ``on_retry`` callback (if any) gets a ``RetryNotice``, so that an interactive
caller can say "server not reachable, retrying (2/4)" instead of staying silent through the backoff.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterable, Callable, Iterable

import stamina

from ._errors import (
    APIConnectionError,
    APIStatusError,
    IdempotencyKeyInUseError,
    RateLimitError,
    retry_after_seconds,
)

__all__ = ["RetryNotice", "RetryPolicy", "retry_decision"]

# Gateways answer 502/504 while a node restarts; 500 is a bug that a retry will not fix.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclasses.dataclass(frozen=True)
class RetryNotice:
    """A failed attempt that is about to be retried: ``attempt`` of ``max_attempts`` comes next."""

    attempt: int
    max_attempts: int
    error: Exception
    wait: float | None = None  # the server's hint in seconds; None: the policy's own backoff


OnRetry = Callable[[RetryNotice], None]


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long to retry; the defaults suit an interactive CLI."""

    max_attempts: int = 4
    timeout: float = 120.0
    wait_initial: float = 0.5
    wait_max: float = 10.0
    wait_jitter: float = 1.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def hook(self, *, replay_safe: bool, on_retry: OnRetry | None = None) -> Callable[[Exception], bool | float]:
        """The stamina ``on=`` hook for one request; ``replay_safe`` is False for a POST without a key."""
        failures = 0

        def decide(exc: Exception) -> bool | float:
            nonlocal failures
            failures += 1
            decision = retry_decision(exc, replay_safe=replay_safe, max_retry_after=self.max_retry_after)
            if on_retry is not None and decision is not False and failures < self.max_attempts:
                wait = decision if not isinstance(decision, bool) else None
                on_retry(RetryNotice(failures + 1, self.max_attempts, exc, wait))
            return decision

        return decide

    def attempts(self, *, replay_safe: bool, on_retry: OnRetry | None = None) -> Iterable[stamina.Attempt]:
        """The stamina attempts for one blocking request."""
        return stamina.retry_context(
            on=self.hook(replay_safe=replay_safe, on_retry=on_retry),
            attempts=self.max_attempts,
            timeout=self.timeout,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_jitter,
        )

    def async_attempts(self, *, replay_safe: bool, on_retry: OnRetry | None = None) -> AsyncIterable[stamina.Attempt]:
        """The stamina attempts for one awaited request (the same iterator, typed for ``async for``)."""
        return stamina.retry_context(
            on=self.hook(replay_safe=replay_safe, on_retry=on_retry),
            attempts=self.max_attempts,
            timeout=self.timeout,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_jitter,
        )


def retry_decision(exc: Exception, *, replay_safe: bool, max_retry_after: float) -> bool | float:
    """Decide one failure: False (raise), True (back off exponentially) or seconds to wait."""
    if not replay_safe:
        return False
    if isinstance(exc, APIConnectionError):
        return True
    if isinstance(exc, IdempotencyKeyInUseError):
        return True
    if not isinstance(exc, APIStatusError) or exc.status_code not in RETRYABLE_STATUSES:
        return False
    hint = exc.retry_after if isinstance(exc, RateLimitError) else retry_after_seconds(exc.response)
    if hint is None:
        return True
    if hint > max_retry_after:
        return False
    # A float (even 0.0) tells stamina to wait exactly this long instead of its own backoff.
    return float(hint)
