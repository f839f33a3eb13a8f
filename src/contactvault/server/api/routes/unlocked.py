"""Extension: GET /external/contacts/unlocked and /external/contacts/erased, for keeping client copies true."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from contactvault.server.api import mappers
from contactvault.server.api.deps import AccountId, Page, RuntimeDep, json
from contactvault.server.api.schemas import ErrorPublic, PageFields, VerificationPublic
from contactvault.server.services import unlocked_contacts
from contactvault.server.services.unlocked_contacts import SINCE_EXAMPLE

router = APIRouter(prefix="/external/contacts", tags=["contacts"])
ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorPublic} for s in (400, 401, 429)}
Since = Annotated[
    str | None,
    Query(
        max_length=64,
        description=(
            "Only what happened at or after this ISO 8601 date-time (`Z` or an offset; none means UTC; a bare date "
            "is its midnight UTC). Anything else: 400 naming `since`. Absent: everything."
        ),
        examples=[SINCE_EXAMPLE],
    ),
]


def _page_example(item: dict[str, Any]) -> dict[str, Any]:
    return {"items": [item], "total": 1, "page": 1, "pageSize": 20, "totalPages": 1, "hasMore": False}


UNLOCKED_EXAMPLE = {
    "personnelId": "789",
    "channel": "email",
    "value": "ada.lovelace@example.com",
    "verification": {"status": "valid", "score": 95, "checkedAt": "2026-11-30T09:00:01Z"},
    "source": "pattern",
    "unlockedAt": "2026-11-30T09:00:02Z",
    "taskId": "5740418994814306926",
}
ERASED_EXAMPLE = {"personnelId": "789", "reason": "erased", "channel": None, "at": "2026-12-01T10:00:00Z"}


class UnlockedContactPublic(BaseModel):
    """A contact this account unlocked; ``value`` is null once erased, past retention or opted out."""

    personnelId: str
    channel: Literal["email", "phone"]
    value: str | None
    verification: VerificationPublic | None
    source: str | None = Field(
        description="Where the delivered value came from: the import's label, `pattern` for an inferred address, "
        "or a provider's name; null for unlocks recorded before sources were kept."
    )
    unlockedAt: str
    taskId: str


class UnlockedPage(PageFields):
    """A page of unlocked contacts, oldest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [_page_example(UNLOCKED_EXAMPLE)]})

    items: list[UnlockedContactPublic]


class ErasedContactPublic(BaseModel):
    """An unlocked person whose data must go from client copies: ``channel`` null means every channel."""

    personnelId: str
    reason: Literal["erased", "opted_out"]
    channel: Literal["email", "phone"] | None
    at: str


class ErasedPage(PageFields):
    """A page of erasures and opt-outs, oldest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [_page_example(ERASED_EXAMPLE)]})

    items: list[ErasedContactPublic]


@router.get(
    "/unlocked",
    response_model=UnlockedPage,
    responses=ERRORS,
    summary="Every contact this account unlocked (extension)",
)
def unlocked(rt: RuntimeDep, account_id: AccountId, page: Page, since: Since = None) -> Response:
    """Each (person, channel) this account paid for, with its value while it may still be shown, oldest first."""
    moment = unlocked_contacts.parse_since(since)
    return json(mappers.unlocked_page(unlocked_contacts.list_unlocked(rt, account_id, page, moment)))


@router.get(
    "/erased",
    response_model=ErasedPage,
    responses=ERRORS,
    summary="Unlocked people since erased or opted out (extension)",
)
def erased(rt: RuntimeDep, account_id: AccountId, page: Page, since: Since = None) -> Response:
    """People this account unlocked who were erased (every channel) or put on the opt-out list (the person, or
    one address), with when; delete them from every copy kept outside the server."""
    moment = unlocked_contacts.parse_since(since)
    return json(mappers.erased_page(unlocked_contacts.list_erased(rt, account_id, page, moment)))
