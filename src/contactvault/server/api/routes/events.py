"""GET /external/events/list and /external/events/{id}."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from contactvault.server.api import mappers
from contactvault.server.api.deps import AccountId, Page, RuntimeDep, json, read
from contactvault.server.api.schemas import ErrorPublic, EventEnvelope, EventPage
from contactvault.server.domain.errors import InvalidRequest, NotFound
from contactvault.server.domain.tasks import parse_event_id
from contactvault.server.services import directory

router = APIRouter(prefix="/external/events", tags=["events"])
Text = Annotated[str | None, Query(min_length=1, max_length=200)]
# A calendar day and nothing else: a bare number (Unix seconds, 0) or a datetime is refused, not read as a date.
Day = Annotated[
    str | None,
    Query(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="YYYY-MM-DD", json_schema_extra={"format": "date"}),
]


def _day(field: str, raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(f"Invalid {field}: not a calendar date (YYYY-MM-DD).", {"field": field}) from None


@router.get("/list", response_model=EventPage, summary="List events")
async def list_events(
    rt: RuntimeDep,
    _account: AccountId,
    page: Page,
    keyword: Text = None,
    country: Text = None,
    city: Text = None,
    date_start_from: Day = None,
    date_start_to: Day = None,
) -> Response:
    """Events by start date; every filter is optional."""
    found = await read(
        rt,
        directory.list_events,
        rt,
        page,
        keyword=keyword,
        country=country,
        city=city,
        date_from=_day("date_start_from", date_start_from),
        date_to=_day("date_start_to", date_start_to),
    )
    return json(mappers.event_page(found))


@router.get(
    "/{event_id}",
    response_model=EventEnvelope,
    summary="Get one event",
    responses={404: {"model": ErrorPublic, "description": "Unknown event."}},
)
async def get_event(
    rt: RuntimeDep, _account: AccountId, event_id: Annotated[str, Path(min_length=1, max_length=100)]
) -> Response:
    """One event in full; 404 when unknown."""
    pk = parse_event_id(event_id)
    if pk is None:
        # Not an id we could have issued: unknown, and its text is not echoed back.
        raise NotFound("Event not found.")
    return json(mappers.event_detail(await read(rt, directory.get_event, rt, pk)))
