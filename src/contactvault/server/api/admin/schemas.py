"""Wire shapes of the operator API (``/admin/v1``): request bodies (``XCreate``, strict, unknown fields refused) and
replies (``XPublic``), camelCase like ``contactvault admin`` prints them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

STRICT = ConfigDict(extra="forbid", strict=True)
BIG = 2**63 - 1


class AccountCreate(BaseModel):
    """Body of POST /admin/v1/accounts."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{"name": "Acme Sales"}]})

    name: str = Field(min_length=1, max_length=200, pattern=r"\S")


class AccountPublic(BaseModel):
    """A new account."""

    accountId: str
    name: str


class KeyCreate(BaseModel):
    """Body of POST /admin/v1/accounts/{account_id}/keys."""

    model_config = STRICT

    label: str | None = Field(default=None, max_length=200, description="A label to recognise the key by.")


class KeyIssuedPublic(BaseModel):
    """A new API key; ``apiKey`` is shown once (null in a replay: the secret is never stored)."""

    keyId: str
    accountId: str
    apiKey: str | None


class KeyRotate(BaseModel):
    """Body of POST /admin/v1/keys/{key_id}/rotate."""

    model_config = STRICT

    overlap_seconds: int = Field(default=86_400, ge=0, le=10 * 365 * 86_400, description="How long the old key works.")


class KeyRotatedPublic(KeyIssuedPublic):
    """The successor key, and when the old one stops working."""

    replaces: str
    oldKeyExpiresAt: str


class KeyPublic(BaseModel):
    """What an operator may see of an API key (never its secret)."""

    keyId: str
    accountId: str
    prefix: str
    label: str | None
    createdAt: str
    lastUsedAt: str | None
    revokedAt: str | None
    expiresAt: str | None
    state: str


class KeyList(BaseModel):
    """Every key (of one account, when asked)."""

    keys: list[KeyPublic]


class KeyRevokedPublic(BaseModel):
    """A revoked key."""

    keyId: str
    revoked: bool


class GuardrailsUpdate(BaseModel):
    """Body of POST /admin/v1/keys/{key_id}/guardrails: fields left out keep their value; a ceiling of null
    removes it."""

    model_config = STRICT

    agent: bool | None = Field(default=None, description="Allow agent calls.")
    agent_max_per_call: int | None = Field(default=None, ge=0, le=BIG)
    agent_max_per_day: int | None = Field(default=None, ge=0, le=BIG)


class GuardrailsPublic(BaseModel):
    """A key's guardrails after the change."""

    keyId: str
    agent: Literal["on", "off"]
    agentMaxPerCall: int | None
    agentMaxPerDay: int | None


class GrantCreate(BaseModel):
    """Body of POST /admin/v1/accounts/{account_id}/credits/grants."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"amount": 5000, "bucket": "subscription"}]}
    )

    amount: int = Field(gt=0, le=BIG, description="Credits to add.")
    bucket: Literal["subscription", "addon", "gift"] = "subscription"
    expires: str | None = Field(
        default=None, max_length=64, description="Expiry, ISO 8601 with a timezone (e.g. `2027-01-01T00:00:00Z`)."
    )


class SuppressionCreate(BaseModel):
    """Body of POST /admin/v1/suppressions and /suppressions/remove."""

    model_config = STRICT

    kind: Literal["email", "phone", "person"]
    value: str = Field(min_length=1, max_length=320, description="The email, the phone (+ country code) or the id.")


class SuppressionPublic(BaseModel):
    """The opt-out list after the change (never the value)."""

    kind: str
    suppressed: bool
    changed: bool = Field(description="Whether the list changed (false: it was already so).")


class ErasureCreate(SuppressionCreate):
    """Body of POST /admin/v1/erasures."""

    delete_profile: bool = Field(default=False, description="Also delete the directory profile.")


class ErasurePublic(BaseModel):
    """What an erasure did; ``accountsThatUnlocked`` are the accounts to tell."""

    personIds: list[str]
    accountsThatUnlocked: list[str]
    contactPointsDeleted: int
    unlockValuesErased: int
    suppressionsAdded: int
    inFlightItems: int
    profileDeleted: bool
    traceId: str
