"""GET /external/events/list and /external/events/{id}."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from contactvault.server.api.deps import AccountId, Page, RuntimeDep, json
from contactvault.server.api.schemas import ErrorPublic, EventEnvelope, EventPage
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.tasks import parse_person_id
from contactvault.server.services import directory

router = APIRouter(prefix="/external/events", tags=["events"])
Text = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("/list", response_model=EventPage, summary="List events")
def list_events(
    rt: RuntimeDep,
    _account: AccountId,
    page: Page,
    keyword: Text = None,
    country: Text = None,
    city: Text = None,
    date_start_from: Annotated[date | None, Query(description="YYYY-MM-DD")] = None,
    date_start_to: Annotated[date | None, Query(description="YYYY-MM-DD")] = None,
) -> Response:
    """Events by start date; every filter is optional."""
    return json(
        directory.list_events(
            rt,
            page,
            keyword=keyword,
            country=country,
            city=city,
            date_from=date_start_from,
            date_to=date_start_to,
        )
    )


@router.get(
    "/{event_id}",
    response_model=EventEnvelope,
    summary="Get one event",
    responses={404: {"model": ErrorPublic, "description": "Unknown event."}},
)
def get_event(
    rt: RuntimeDep, _account: AccountId, event_id: Annotated[str, Path(min_length=1, max_length=100)]
) -> Response:
    """One event in full; 404 when unknown."""
    pk = parse_person_id(event_id)
    if pk is None:
        # Not an id we could have issued: unknown, and its text is not echoed back.
        raise NotFound("Event not found.")
    return json({"event": directory.get_event(rt, pk)})
