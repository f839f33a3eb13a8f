"""POST /external/actions/precheck: its request body (validated) and its answers, typed per reason (for /openapi.json).

The server reads one body model (any ``action_type``, ``params`` an object) and validates ``params`` as
``UnlockParams`` only for the unlock actions: an unknown action is a valid request answered 200
``unsupported_action``, and more than 100 ids is a valid request answered 200 ``exceed_max_unlock_limit``. The
published document says exactly that: an unlock action with typed params (``UnlockPrecheckCreate``), or any other
action with any params.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

UNLOCK_ACTIONS = ("unlock_contact_emails", "unlock_contact_phones")
UnlockAction = Literal["unlock_contact_emails", "unlock_contact_phones"]
ReasonCode = Literal[
    "ok",
    "already_unlocked",
    "unlock_in_progress",
    "insufficient_balance",
    "no_contacts_available",
    "exceed_max_unlock_limit",
    "invalid_subject",
    "unsupported_action",
    "not_found",
]
# Billing code of the execution path: "" when nothing is charged, else the action (Lensmor sends a string).
BizCode = Literal["", "unlock_contact_emails", "unlock_contact_phones"]
CREATE_QUOTE = (
    "Extension: when the unlock is allowed, store this price server-side and answer `quote_id` and `expires_at`; "
    "send `quote_id` with the submission to be charged exactly this or refused (409 `PRICE_CHANGED`)."
)
PRECHECK_EXAMPLE: dict[str, Any] = {
    "action_type": "unlock_contact_emails",
    "params": {"event_id": "139574", "personnel_ids": ["789"]},
}


class PrecheckCreate(BaseModel):
    """Body of POST /external/actions/precheck, as the server reads it."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [PRECHECK_EXAMPLE]})

    action_type: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    create_quote: bool = Field(default=False, description=CREATE_QUOTE)


class UnlockParams(BaseModel):
    """``params`` of an unlock precheck (other fields are ignored; more than 100 ids is answered, not refused)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    event_id: str = Field(min_length=1, max_length=100)
    personnel_ids: list[str] = Field(min_length=1)


class UnlockPrecheckCreate(BaseModel):
    """A precheck of an email or phone unlock."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PRECHECK_EXAMPLE]})

    action_type: UnlockAction
    params: UnlockParams
    create_quote: bool = Field(default=False, description=CREATE_QUOTE)


def _not_an_unlock_action(schema: dict[str, Any]) -> None:
    schema["properties"]["action_type"]["not"] = {"enum": list(UNLOCK_ACTIONS)}


class OtherPrecheckCreate(BaseModel):
    """A precheck of any other action: answered 200 ``unsupported_action``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_not_an_unlock_action)

    action_type: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    create_quote: bool = Field(default=False, description=CREATE_QUOTE)


class PrecheckFields(BaseModel):
    """What every precheck answer carries."""

    model_config = ConfigDict(extra="forbid")

    ok: Literal[True]
    action_type: str
    allowed: bool
    should_charge: bool
    credits: int
    biz_code: BizCode


class UnlockPrecheckDetail(BaseModel):
    """``detail`` once the ids were classified."""

    requested_count: int
    chargeable_count: int
    already_unlocked_count: int
    unlocking_count: int
    personnel_ids: list[str] = Field(description="The chargeable ids.")
    missing_personnel_ids: list[str]
    invalid_personnel_ids: list[str]
    unlinked_personnel_ids: list[str]
    available_balance: int
    unit_cost: int


class ClassifiedPrecheck(PrecheckFields):
    """The ids were classified against the event."""

    reason_code: Literal[
        "ok",
        "already_unlocked",
        "unlock_in_progress",
        "insufficient_balance",
        "no_contacts_available",
        "invalid_subject",
    ]
    detail: UnlockPrecheckDetail
    quote_id: str | None = Field(
        default=None, description="Extension: present only when `create_quote` was asked and the answer is `ok`."
    )
    expires_at: str | None = Field(default=None, description="Extension: when the quote expires (ISO 8601 UTC).")


class RequestedCount(BaseModel):
    """``detail`` of a ``not_found`` answer."""

    requested_count: int


class UnknownEventPrecheck(PrecheckFields):
    """The event is unknown."""

    reason_code: Literal["not_found"]
    detail: RequestedCount


class LimitDetail(BaseModel):
    """``detail`` of an ``exceed_max_unlock_limit`` answer."""

    requested_count: int
    max: int


class OverLimitPrecheck(PrecheckFields):
    """More ids than one task takes."""

    reason_code: Literal["exceed_max_unlock_limit"]
    detail: LimitDetail


class NoDetail(BaseModel):
    """An empty ``detail``."""

    model_config = ConfigDict(extra="forbid")


class UnsupportedPrecheck(PrecheckFields):
    """An action this server does not offer."""

    reason_code: Literal["unsupported_action"]
    detail: NoDetail


PrecheckPublic = Annotated[
    ClassifiedPrecheck | UnknownEventPrecheck | OverLimitPrecheck | UnsupportedPrecheck,
    Field(discriminator="reason_code"),
]
