"""The error body narrowed per status, for /openapi.json: 400/413 name a field, 402 the shortfall, 409/422 their
idempotency error. Every error is rendered by api/errors.py; these say what its body holds for each status."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contactvault.server.api.schemas import ErrorFields


class FieldDetails(BaseModel):
    """``details`` of a 400/413: the offending field (never its value)."""

    field: str


class InvalidRequestError(ErrorFields):
    """400/413: the request is malformed or too large."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": 400,
                    "message": "Invalid personnel_ids: List should have at least 1 item after validation, not 0",
                    "errorKey": "INVALID_REQUEST",
                    "traceId": "4bf92f3577b34da6",
                    "details": {"field": "personnel_ids"},
                }
            ]
        }
    )

    errorKey: Literal["INVALID_REQUEST"]
    details: FieldDetails | None = None


class CreditShortfall(BaseModel):
    """``details`` of a 402."""

    required: int = Field(description="Credits the submission needs.")
    available: int = Field(description="Credits the account can spend now.")


class InsufficientCreditsError(ErrorFields):
    """402: the account cannot pay for the submission; nothing was created or held."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": 402,
                    "message": "Insufficient credits: 30 required, 15 available.",
                    "errorKey": "INSUFFICIENT_CREDITS",
                    "traceId": "4bf92f3577b34da6",
                    "details": {"required": 30, "available": 15},
                }
            ]
        }
    )

    errorKey: Literal["INSUFFICIENT_CREDITS"]
    details: CreditShortfall


class IdempotencyKeyInUseError(ErrorFields):
    """409: the same Idempotency-Key is still executing."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": 409,
                    "message": "A request with this Idempotency-Key is still executing.",
                    "errorKey": "IDEMPOTENCY_KEY_IN_USE",
                    "traceId": "4bf92f3577b34da6",
                }
            ]
        }
    )

    errorKey: Literal["IDEMPOTENCY_KEY_IN_USE"]


class SubmitConflictError(ErrorFields):
    """409 on a submission: the same Idempotency-Key is still executing, or the quote's price no longer holds."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": 409,
                    "message": "The price changed since the quote; precheck again.",
                    "errorKey": "PRICE_CHANGED",
                    "traceId": "4bf92f3577b34da6",
                    "details": {"quoted": 45, "now": 30, "no_longer_chargeable": ["791"], "newly_chargeable": []},
                }
            ]
        }
    )

    errorKey: Literal["IDEMPOTENCY_KEY_IN_USE", "PRICE_CHANGED"]
    details: dict[str, Any] | None = Field(
        default=None,
        description="`PRICE_CHANGED` only: the credits `quoted` and `now`; `no_longer_chargeable` and "
        "`newly_chargeable` ids when the ids differ; `event_id` when the event differs.",
    )


class IdempotencyKeyReusedError(ErrorFields):
    """422: the Idempotency-Key was used with a different body."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": 422,
                    "message": "This Idempotency-Key was used with a different request body.",
                    "errorKey": "IDEMPOTENCY_KEY_REUSED",
                    "traceId": "4bf92f3577b34da6",
                }
            ]
        }
    )

    errorKey: Literal["IDEMPOTENCY_KEY_REUSED"]
