"""Exceptions raised by the contactvault SDK.

The tree (``except`` a node to catch everything below it)::

    ContactVaultError
    ├── ConfigError                      no API key, unreadable config file, plain HTTP to a remote host
    ├── StateError                       the local state file cannot be used
    └── APIError                         anything that happened while talking to the API
        ├── APIConnectionError           transport failure: DNS, refused, reset, TLS
        │   └── APITimeoutError          connect/read/write/pool timeout
        ├── APIResponseValidationError   a 2xx body the models could not parse
        ├── TaskTimeoutError             an unlock task was not terminal before the deadline
        └── APIStatusError               any non-2xx answer (status_code, error_key, trace_id, details)
            ├── InvalidRequestError          400 INVALID_REQUEST
            │   └── IdempotencyKeyReusedError    422 IDEMPOTENCY_KEY_REUSED
            ├── AuthenticationError          401 INVALID_API_KEY
            ├── InsufficientCreditsError     402 INSUFFICIENT_CREDITS (.required, .available)
            ├── NotFoundError                404 NOT_FOUND
            ├── ConflictError                409 STATE_CONFLICT
            │   ├── IdempotencyKeyInUseError     409 IDEMPOTENCY_KEY_IN_USE
            │   └── PriceChangedError            409 PRICE_CHANGED (.quoted, .now)
            ├── RateLimitError               429 RATE_LIMIT_EXCEEDED (.retry_after)
            └── ServerError                  5xx
                └── ServiceUnavailableError      503 SERVICE_UNAVAILABLE

Messages and reprs never contain the API key, and never an email or phone number: they are built from the
status, the server's ``errorKey``/``message`` and the trace id only.
"""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from ._models import UnlockTask

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "ContactVaultError",
    "IdempotencyKeyInUseError",
    "IdempotencyKeyReusedError",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "NotFoundError",
    "PriceChangedError",
    "RateLimitError",
    "ServerError",
    "ServiceUnavailableError",
    "StateError",
    "TaskTimeoutError",
    "error_from_response",
]


class ContactVaultError(Exception):
    """Root of every exception the SDK raises on purpose."""


class ConfigError(ContactVaultError):
    """The client could not be configured (no API key, unreadable config file)."""


class StateError(ContactVaultError):
    """The local state file is missing, corrupt or belongs to something else."""


class APIError(ContactVaultError):
    """Something went wrong while talking to the API."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APIConnectionError(APIError):
    """The request never got an HTTP answer (connection refused, reset, DNS, TLS)."""


class APITimeoutError(APIConnectionError):
    """The request timed out before an answer arrived."""


class APIResponseValidationError(APIError):
    """A successful answer whose body does not match the expected shape."""

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code


class TaskTimeoutError(APIError):
    """An unlock task did not reach a terminal state before the caller's deadline."""

    def __init__(self, task_id: str, *, last: UnlockTask | None = None) -> None:
        super().__init__(f"unlock task {task_id} is not finished yet; wait again or resume later")
        self.task_id = task_id
        self.last = last


class APIStatusError(APIError):
    """The API answered with a non-2xx status."""

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        error_key: str | None = None,
        trace_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code
        self.error_key = error_key
        self.trace_id = trace_id
        self.details: dict[str, Any] = details or {}

    @property
    def http_status(self) -> int:
        """The HTTP status code (stripe-style alias of ``status_code``)."""
        return self.status_code

    @property
    def code(self) -> str | None:
        """The server's ``errorKey`` (stripe-style alias of ``error_key``)."""
        return self.error_key

    def __str__(self) -> str:
        key = f" {self.error_key}" if self.error_key else ""
        trace = f" (trace {self.trace_id})" if self.trace_id else ""
        return f"{self.status_code}{key}: {self.message}{trace}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, "
            f"error_key={self.error_key!r}, trace_id={self.trace_id!r})"
        )


class InvalidRequestError(APIStatusError):
    """400: the request was malformed; nothing was created."""


class IdempotencyKeyReusedError(InvalidRequestError):
    """422: this Idempotency-Key was already used with a different body."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, malformed, unknown or revoked."""


class InsufficientCreditsError(APIStatusError):
    """402: the balance does not cover the chargeable contacts; nothing was held."""

    @property
    def required(self) -> int | None:
        """Credits the request needed, from ``details.required``."""
        return _int_or_none(self.details.get("required"))

    @property
    def available(self) -> int | None:
        """Credits the account could spend, from ``details.available``."""
        return _int_or_none(self.details.get("available"))


class NotFoundError(APIStatusError):
    """404: no such object, or it belongs to another account."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state."""


class IdempotencyKeyInUseError(ConflictError):
    """409: a request with this Idempotency-Key is still executing; retry shortly."""


class PriceChangedError(ConflictError):
    """409: a quote no longer holds (other ids or credits than quoted); nothing was held. Precheck again."""

    @property
    def quoted(self) -> int | None:
        """Credits the quote promised, from ``details.quoted``."""
        return _int_or_none(self.details.get("quoted"))

    @property
    def now(self) -> int | None:
        """Credits the same ids cost now, from ``details.now``."""
        return _int_or_none(self.details.get("now"))


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` says how many seconds to wait."""

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before retrying (Retry-After, else X-RateLimit-Reset), or None."""
        return retry_after_seconds(self.response)


class ServerError(APIStatusError):
    """5xx: the server failed."""


class ServiceUnavailableError(ServerError):
    """503: the service is temporarily unavailable; retry later."""


def retry_after_seconds(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Read the server's retry hint: Retry-After (seconds or HTTP date), else X-RateLimit-Reset."""
    current = time.time() if now is None else now
    raw = response.headers.get("Retry-After")
    if raw is not None:
        raw = raw.strip()
        if raw.isdigit():
            return float(raw)
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - current)
    reset = response.headers.get("X-RateLimit-Reset")
    if reset is not None and reset.strip().isdigit():
        return max(0.0, float(reset) - current)
    return None


_BY_KEY: dict[str, type[APIStatusError]] = {
    "IDEMPOTENCY_KEY_REUSED": IdempotencyKeyReusedError,
    "IDEMPOTENCY_KEY_IN_USE": IdempotencyKeyInUseError,
    "PRICE_CHANGED": PriceChangedError,
}

_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def error_from_response(response: httpx.Response) -> APIStatusError:
    """Build the exception that matches a non-2xx response's status and ``errorKey``."""
    body = _json_object(response)
    error_key = _str_or_none(body.get("errorKey"))
    message = _str_or_none(body.get("message")) or response.reason_phrase or "request failed"
    trace_id = _str_or_none(body.get("traceId")) or response.headers.get("X-Request-ID")
    details = body.get("details")
    cls = _BY_KEY.get(error_key or "") or _BY_STATUS.get(response.status_code)
    if cls is None:
        cls = ServerError if response.status_code >= 500 else APIStatusError
    return cls(
        message,
        response=response,
        error_key=error_key,
        trace_id=trace_id,
        details=details if isinstance(details, dict) else None,
    )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    # Proxies and crashed servers answer with HTML or nothing; the status alone must still map.
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
