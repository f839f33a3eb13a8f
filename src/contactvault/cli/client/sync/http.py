"""HTTP for the targets: 429 and 503 are retried after the server's ``Retry-After`` (stamina), nothing else is.

A write that fails on the network is not retried here: it may have been applied, and the next run finds out by
reading the records back (the engine's read-then-write), which is safer than sending it twice.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx
import stamina

__all__ = ["MAX_ATTEMPTS", "RateLimited", "TargetError", "send"]

MAX_ATTEMPTS = 6
RETRY_STATUSES = (429, 503)
MAX_WAIT = 120.0


class TargetError(Exception):
    """The target refused a request; the message holds the status and the vendor's error message, never values."""

    def __init__(self, message: str, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


class RateLimited(TargetError):
    """429/503: wait ``retry_after`` seconds (None: the default backoff) and try again."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.request.url.path} answered {response.status_code}", response
        )
        self.retry_after = retry_after(response.headers.get("retry-after"))


def retry_after(header: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), capped; None when absent or bad."""
    if not header:
        return None
    try:
        return min(max(float(header), 0.0), MAX_WAIT)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return None
    return min(max(when - time.time(), 0.0), MAX_WAIT)


def _backoff(exc: Exception) -> bool | float:
    # stamina waits the returned number of seconds instead of its own backoff.
    if isinstance(exc, RateLimited):
        return True if exc.retry_after is None else exc.retry_after
    return False


def send(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    retry_on: Callable[[httpx.Response], bool] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request; 429/503 retried after ``Retry-After``; any other 4xx/5xx is returned to the caller to judge.

    ``retry_on`` names more answers to retry the same way (Salesforce's 403 ``REQUEST_LIMIT_EXCEEDED``).
    """
    # A retry context rather than the decorator: stamina's retry hooks would log the decorated call's arguments,
    # and the request body holds emails.
    for attempt in stamina.retry_context(on=_backoff, attempts=MAX_ATTEMPTS, timeout=None):
        with attempt:
            response = http.request(method, url, **kwargs)
            if response.status_code in RETRY_STATUSES or (retry_on is not None and retry_on(response)):
                raise RateLimited(response)
    return response
