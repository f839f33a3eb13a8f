"""Request bodies (validated, unknown fields rejected) and response shapes (for /openapi.json)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

ID_EXAMPLE = "789"
EVENT_EXAMPLE: dict[str, Any] = {
    "id": "139574",
    "eventId": "139574",
    "name": "Berlin Retail Expo 2026",
    "nickname": "BRE26",
    "description": None,
    "url": "https://retail-expo.example/berlin",
    "dateStart": "2026-05-04",
    "dateEnd": "2026-05-06",
    "venue": "Messe Berlin",
    "city": "Berlin",
    "region": None,
    "country": "Germany",
    "exhibitorCount": 412,
    "image": None,
    "dataSource": None,
    "hasVisitors": False,
    "sponsorMatchStarred": 0,
}
EVENT_DETAIL_EXAMPLE: dict[str, Any] = {
    **EVENT_EXAMPLE,
    "attendeeCount": 12000,
    "personnelCount": 3100,
    "eventType": "tradeshow",
    "topics": ["retail", "logistics"],
}
CONTACT_EXAMPLE: dict[str, Any] = {
    "id": ID_EXAMPLE,
    "fullName": "Jane Doe",
    "title": "VP of Partnerships",
    "department": "Business Development",
    "seniorityLevel": "VP",
    "linkedinUrl": "https://www.linkedin.com/in/jane-doe-789",
    "companyName": "Example Retail Co",
    "sourceType": ["exhibitor"],
    "email": None,
    "contactUnlockStatus": "locked",
    "phone": None,
    "phoneUnlockStatus": None,
    "eventCount": 2,
    "linkedinActivity": None,
    "linkedinActivityStatus": None,
    "outreachMessageStatus": None,
    "outreachMessageChannels": [],
    "emailSource": None,
    "emailVerification": None,
    "phoneSource": None,
    "phoneVerification": None,
}


# Timestamps are RFC 3339 strings in UTC ("2026-11-29T12:00:00Z"); dates are YYYY-MM-DD.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]
# Why an item failed (the contract's vocabulary; VALUE_UNREADABLE: a stored value could not be decrypted).
ItemErrorCode = Literal[
    "UNRESOLVED", "INELIGIBLE", "CREDIT_CAP_REACHED", "TASK_FAILED", "TASK_NOT_FOUND", "VALUE_UNREADABLE"
]


def _integral(value: Any) -> Any:
    # JSON has one number type: 5.0 is the integer 5 to JSON Schema (and to the published document), not 5.5.
    return int(value) if isinstance(value, float) and value.is_integer() else value


CreditCap = Annotated[int, Field(ge=0, le=10**12), BeforeValidator(_integral)]


def _page_example(item: dict[str, Any]) -> dict[str, Any]:
    return {"items": [item], "total": 41, "page": 3, "pageSize": 20, "totalPages": 3, "hasMore": False}


class UnlockCreate(BaseModel):
    """Body of POST /external/contacts/unlock and /unlock-phone."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"event_id": "139574", "personnel_ids": ["789", "790"]}]},
    )

    event_id: str = Field(min_length=1, max_length=100)
    personnel_ids: list[str] = Field(min_length=1, max_length=100)
    max_credits: CreditCap | None = Field(default=None, description="Extension: spend cap for this task.")
    quote_id: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,19}$",
        description="Extension: confirm a precheck quote; 409 `PRICE_CHANGED` unless its ids and credits still hold.",
    )
    verification_min: Literal["valid", "accept_all"] | None = Field(
        default=None,
        description=(
            "Extension: the weakest verification a value the engine found (not an imported one) may have to be"
            " delivered and charged: `valid`, or `accept_all` (the default policy: `accept_all` at a score of 60"
            " or more). Stored with the task; no effect on phone unlocks today (phones come from the vault only)."
        ),
    )


class ErrorFields(BaseModel):
    """What every error body carries."""

    code: int
    message: str
    errorKey: str
    traceId: str


class ErrorPublic(ErrorFields):
    """Every non-2xx answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": 404,
                    "message": "Task 1 not found.",
                    "errorKey": "NOT_FOUND",
                    "traceId": "4bf92f3577b34da6",
                }
            ]
        }
    )

    details: dict[str, Any] | None = Field(
        default=None, description="Extension: `{field}` on 400/413, `{required, available}` on 402."
    )


class CreditBalancePublic(BaseModel):
    """GET /external/credits/balance."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "totalAmount": 10000,
                    "totalBalance": 9850,
                    "subscriptionAmount": 10000,
                    "subscriptionBalance": 9850,
                    "addonAmount": 0,
                    "addonBalance": 0,
                    "addonExpireAt": None,
                    "giftAmount": 0,
                    "giftBalance": 0,
                    "resetAt": None,
                    "reservedBalance": 150,
                }
            ]
        }
    )

    totalAmount: int
    totalBalance: int
    subscriptionAmount: int
    subscriptionBalance: int
    addonAmount: int
    addonBalance: int
    addonExpireAt: int | None
    giftAmount: int
    giftBalance: int
    resetAt: int | None
    reservedBalance: int


class EventItemPublic(BaseModel):
    """An event in a list."""

    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_EXAMPLE]})

    id: str
    eventId: str
    name: str
    nickname: str | None
    description: str | None
    url: str | None
    dateStart: Day | None
    dateEnd: Day | None
    venue: str | None
    city: str | None
    region: str | None
    country: str | None
    exhibitorCount: int
    image: str | None
    dataSource: str | None
    hasVisitors: bool
    sponsorMatchStarred: int


class EventDetailPublic(EventItemPublic):
    """One event in full."""

    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_DETAIL_EXAMPLE]})

    attendeeCount: int | None
    personnelCount: int
    eventType: str | None
    topics: list[str]


class EventEnvelope(BaseModel):
    """GET /external/events/{id}."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"event": EVENT_DETAIL_EXAMPLE}]})

    event: EventDetailPublic


class VerificationPublic(BaseModel):
    """How sure we are the address delivers."""

    status: Literal["valid", "accept_all", "unknown"]
    score: int = Field(ge=0, le=100)
    checkedAt: Timestamp | None


class ContactItemPublic(BaseModel):
    """A person as the caller sees them."""

    model_config = ConfigDict(json_schema_extra={"examples": [CONTACT_EXAMPLE]})

    id: str
    fullName: str
    title: str | None
    department: str | None
    seniorityLevel: str | None
    linkedinUrl: str | None
    companyName: str | None
    sourceType: list[Literal["exhibitor", "social", "visitors"]]
    email: str | None
    contactUnlockStatus: Literal["locked", "unlocking", "unlocked", "failed"]
    phone: str | None
    phoneUnlockStatus: Literal["ready", "processing", "failed"] | None
    eventCount: int
    linkedinActivity: None
    linkedinActivityStatus: None
    outreachMessageStatus: None
    outreachMessageChannels: list[str]
    emailSource: str | None = Field(
        description="Extension: where the shown `email` came from (the import's label, `pattern` for an inferred "
        "address, or a provider's name); null while no email is shown or for unlocks older than sources."
    )
    emailVerification: VerificationPublic | None = Field(
        description="Extension: the shown `email`'s verification when it was delivered; null while none is shown."
    )
    phoneSource: str | None = Field(description="Extension: as `emailSource`, for the shown `phone`.")
    phoneVerification: VerificationPublic | None = Field(
        description="Extension: as `emailVerification`, for the shown `phone`."
    )


class PageFields(BaseModel):
    """The pagination fields every page carries."""

    total: int
    page: int
    pageSize: int
    totalPages: int
    hasMore: bool


class EventPage(PageFields):
    """A page of events."""

    model_config = ConfigDict(json_schema_extra={"examples": [_page_example(EVENT_EXAMPLE)]})

    items: list[EventItemPublic]


class ContactPage(PageFields):
    """A page of people."""

    model_config = ConfigDict(json_schema_extra={"examples": [_page_example(CONTACT_EXAMPLE)]})

    items: list[ContactItemPublic]


class Counts(BaseModel):
    """Personnel list counts."""

    actualTotal: int
    visibleTotal: int
    remainingLockedCount: int


class Semantics(BaseModel):
    """How much of the list is visible."""

    accessMode: str
    previewLimit: int | None
    counts: Counts


class PersonnelPage(ContactPage):
    """GET /external/personnel/list."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_page_example(CONTACT_EXAMPLE),
                    "semantics": {
                        "accessMode": "full",
                        "previewLimit": None,
                        "counts": {"actualTotal": 41, "visibleTotal": 41, "remainingLockedCount": 0},
                    },
                }
            ]
        }
    )

    semantics: Semantics


class SkippedDetail(BaseModel):
    """Why each skipped id was skipped."""

    invalid_personnel_ids: list[str]
    missing_personnel_ids: list[str]
    unlinked_personnel_ids: list[str]
    already_unlocked_personnel_ids: list[str]
    unlocking_personnel_ids: list[str]


class UnlockSubmissionPublic(BaseModel):
    """201 of an unlock submission (snake_case on the wire)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "accepted",
                    "task_id": "4611686018427387904",
                    "job_id": "4611686018427387904",
                    "skipped_personnel_ids": [],
                    "skipped_detail": {
                        "invalid_personnel_ids": [],
                        "missing_personnel_ids": [],
                        "unlinked_personnel_ids": [],
                        "already_unlocked_personnel_ids": [],
                        "unlocking_personnel_ids": [],
                    },
                }
            ]
        }
    )

    status: Literal["accepted", "success"]
    task_id: str | None = None
    job_id: str | None = None
    skipped_personnel_ids: list[str]
    skipped_detail: SkippedDetail


class UnlockItemPublic(BaseModel):
    """One person in a task."""

    personnelId: str
    status: Literal["pending", "processing", "unlocked", "failed"]
    email: str | None = None
    phone: str | None = None
    errorCode: ItemErrorCode | None = None
    creditsCharged: int
    verification: VerificationPublic | None = None
    source: str | None = None
    completedAt: Timestamp | None = None


class ItemCounts(BaseModel):
    """Items by status."""

    pending: int
    processing: int
    unlocked: int
    failed: int


class UnlockTaskPublic(BaseModel):
    """GET /external/contacts/unlock-tasks/{taskId}."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "taskId": "4611686018427387904",
                    "taskStatus": "completed",
                    "items": [
                        {
                            "personnelId": "789",
                            "status": "unlocked",
                            "email": "jane.doe@example.com",
                            "creditsCharged": 15,
                            "verification": {
                                "status": "valid",
                                "score": 95,
                                "checkedAt": "2026-11-01T10:00:00Z",
                            },
                            "source": "vault",
                            "completedAt": "2026-11-29T12:00:01Z",
                        },
                        {
                            "personnelId": "790",
                            "status": "failed",
                            "errorCode": "UNRESOLVED",
                            "creditsCharged": 0,
                            "completedAt": "2026-11-29T12:00:01Z",
                        },
                    ],
                    "counts": {"pending": 0, "processing": 0, "unlocked": 1, "failed": 1},
                    "creditsHeld": 30,
                    "creditsCharged": 15,
                    "creditsReleased": 15,
                    "createdAt": "2026-11-29T12:00:00Z",
                    "completedAt": "2026-11-29T12:00:01Z",
                }
            ]
        }
    )

    taskId: str
    taskStatus: Literal["pending", "processing", "completed", "failed"]
    items: list[UnlockItemPublic]
    counts: ItemCounts
    creditsHeld: int
    creditsCharged: int
    creditsReleased: int
    createdAt: Timestamp
    completedAt: Timestamp | None


LEDGER_ENTRY_EXAMPLE: dict[str, Any] = {
    "entryId": "412",
    "kind": "hold",
    "availableDelta": -45,
    "heldDelta": 45,
    "bucket": "subscription",
    "causeType": "task",
    "causeId": "5740418994814306926",
    "taskId": "5740418994814306926",
    "callSource": "cli",
    "createdAt": "2026-11-30T09:00:00Z",
}


class LedgerEntryPublic(BaseModel):
    """One posting: what it did to the spendable (``availableDelta``) and held (``heldDelta``) credits of one
    bucket, why (``causeType``: `grant`, `task` or `item`) and, for a task's postings, the task and the
    ``x-call-source`` it was submitted with (`api`, `agent`, `cli` or `console`)."""

    entryId: str
    kind: str
    availableDelta: int
    heldDelta: int
    bucket: Literal["subscription", "addon", "gift"]
    causeType: str
    causeId: str
    taskId: str | None
    callSource: str | None
    createdAt: str


class LedgerPage(PageFields):
    """A page of ledger postings, newest first, read up to the posting ``upToId`` (send it back as ``up_to_id`` for
    the next pages: postings made meanwhile then neither shift nor repeat entries)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_page_example(LEDGER_ENTRY_EXAMPLE), "upToId": "412"}]}
    )

    items: list[LedgerEntryPublic]
    upToId: str
