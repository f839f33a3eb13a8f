"""Domain errors: each carries a stable ``error_key``; ``api/errors.py`` maps keys to HTTP statuses.

DomainError
 ├── InvalidRequest          INVALID_REQUEST
 ├── InvalidApiKey           INVALID_API_KEY
 ├── InsufficientCredits     INSUFFICIENT_CREDITS   (details: required, available)
 ├── NotFound                NOT_FOUND
 ├── StateConflict           STATE_CONFLICT
 ├── AgentNotAllowed         AGENT_NOT_ALLOWED      (details: limit)
 ├── AgentLimitExceeded      AGENT_LIMIT_EXCEEDED   (details: limit, ceiling, requested, spent_today)
 ├── PriceChanged            PRICE_CHANGED          (details: quoted, now, ...)
 ├── IdempotencyKeyReused    IDEMPOTENCY_KEY_REUSED
 ├── IdempotencyKeyInUse     IDEMPOTENCY_KEY_IN_USE
 ├── ScopeRequired           INSUFFICIENT_SCOPE     (details: scope; the operator API)
 └── ServiceUnavailable      SERVICE_UNAVAILABLE
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A rule of the domain said no; ``message`` is safe to show to the caller."""

    error_key: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(DomainError):
    """The request is malformed; ``details`` names the field."""

    error_key = "INVALID_REQUEST"


class InvalidApiKey(DomainError):
    """Missing, malformed, unknown, expired or revoked key: always the same message."""

    error_key = "INVALID_API_KEY"

    def __init__(self) -> None:
        super().__init__("Invalid or missing API key.")


class InsufficientCredits(DomainError):
    """The balance cannot cover the batch."""

    error_key = "INSUFFICIENT_CREDITS"

    def __init__(self, required: int, available: int) -> None:
        super().__init__(
            f"Insufficient credits: {required} required, {available} available.",
            {"required": required, "available": available},
        )
        self.required = required
        self.available = available


class NotFound(DomainError):
    """The object does not exist or is not visible to this account."""

    error_key = "NOT_FOUND"


class StateConflict(DomainError):
    """The object is in a state that forbids the operation."""

    error_key = "STATE_CONFLICT"


class AgentNotAllowed(DomainError):
    """Agent calls are turned off for this API key."""

    error_key = "AGENT_NOT_ALLOWED"

    def __init__(self) -> None:
        super().__init__(
            "Agent calls are turned off for this API key (guardrail agent=off); an operator can turn them on.",
            {"limit": "agent"},
        )


class AgentLimitExceeded(DomainError):
    """An agent-sourced submission would pass a credit ceiling of its key."""

    error_key = "AGENT_LIMIT_EXCEEDED"

    def __init__(self, limit: str, ceiling: int, requested: int, spent_today: int | None) -> None:
        if spent_today is None:
            message = f"Refused by the {limit} guardrail: this call needs {requested} credits, the limit is {ceiling}."
        else:
            message = (
                f"Refused by the {limit} guardrail: {spent_today} credits spent by agents today plus {requested} "
                f"would pass the daily limit of {ceiling}."
            )
        details: dict[str, Any] = {"limit": limit, "ceiling": ceiling, "requested": requested}
        if spent_today is not None:
            details["spent_today"] = spent_today
        super().__init__(message + " Nothing was charged.", details)
        self.limit = limit


class PriceChanged(DomainError):
    """A quote no longer holds: the ids or the credits of the submission are not those quoted."""

    error_key = "PRICE_CHANGED"

    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__("The price changed since the quote; precheck again.", details)


class IdempotencyKeyReused(DomainError):
    """The idempotency key was used before with a different request."""

    error_key = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was already used with a different request.")


class IdempotencyKeyInUse(DomainError):
    """The first request with this idempotency key is still executing."""

    error_key = "IDEMPOTENCY_KEY_IN_USE"

    def __init__(self) -> None:
        super().__init__("A request with this Idempotency-Key is still being processed; retry later.")


class ScopeRequired(DomainError):
    """A valid operator key without the scope this operation needs."""

    error_key = "INSUFFICIENT_SCOPE"

    def __init__(self, scope: str) -> None:
        super().__init__(f"This operator key lacks the {scope!r} scope.", {"scope": scope})
        self.scope = scope


class ServiceUnavailable(DomainError):
    """The database (or another dependency) cannot be reached right now."""

    error_key = "SERVICE_UNAVAILABLE"
