"""GET /external/personnel/list and /external/personnel/profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from contactvault.server.api import mappers
from contactvault.server.api.deps import AccountId, RuntimeDep, json, read
from contactvault.server.api.schemas import ContactItemPublic, ErrorPublic, PersonnelPage
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.tasks import parse_event_id, parse_person_id
from contactvault.server.services import directory

router = APIRouter(prefix="/external/personnel", tags=["personnel"])
Text = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get(
    "/list",
    response_model=PersonnelPage,
    summary="List the people at an event",
    responses={404: {"model": ErrorPublic, "description": "Unknown event."}},
)
async def list_personnel(
    rt: RuntimeDep,
    account_id: AccountId,
    event_id: Annotated[str, Query(min_length=1, max_length=100)],
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=50)] = 50,
    exhibitor_id: Annotated[str | None, Query(pattern=r"^[0-9]{1,20}$")] = None,
    department: Text = None,
    level: Text = None,
    search_query: Text = None,
) -> Response:
    """People attending the event, 50 a page by default; ``search_query`` matches name or title."""
    pk = parse_event_id(event_id)
    if pk is None:
        # Not an id we could have issued: unknown, and its text is not echoed back.
        raise NotFound("Event not found.")
    found = await read(
        rt,
        directory.list_personnel,
        rt,
        account_id,
        pk,
        directory.PageRequest(page, page_size),
        exhibitor_id=int(exhibitor_id) if exhibitor_id else None,
        department=department,
        level=level,
        search_query=search_query,
    )
    return json(mappers.personnel_page(found))


@router.get(
    "/profile",
    response_model=ContactItemPublic,
    summary="Get one person",
    responses={404: {"model": ErrorPublic, "description": "Unknown person."}},
)
async def profile(
    rt: RuntimeDep,
    account_id: AccountId,
    personnel_id: Annotated[str, Query(pattern=r"^[0-9]{1,20}$", description="Digits, 1-20 characters.")],
) -> Response:
    """One person as this account sees them; 404 when unknown."""
    pk = parse_person_id(personnel_id)
    if pk is None:
        raise NotFound(f"Personnel {personnel_id} not found.")
    return json(mappers.contact_item(await read(rt, directory.profile, rt, account_id, pk)))
