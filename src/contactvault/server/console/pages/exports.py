"""CSV downloads: one task's people with their outcomes, and everything the account unlocked (streamed, one
service page at a time). ``?bom=1`` starts the file with a UTF-8 byte-order mark for Excel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response, StreamingResponse

from contactvault.server.api.deps import RuntimeDep
from contactvault.server.console import csv_export
from contactvault.server.console.auth import SignedIn
from contactvault.server.runtime import Runtime
from contactvault.server.services import task_history, unlocked_contacts, unlocks
from contactvault.server.services.directory import Page, PageRequest
from contactvault.server.services.unlocked_contacts import UnlockedView

router = APIRouter(prefix="/console", include_in_schema=False)
CSV_TYPE = "text/csv; charset=utf-8"
EXPORT_PAGE_SIZE = 500  # unlocked contacts read per transaction while streaming
MAX_ID = 2**63 - 1

Bom = Annotated[bool, Query(description="Start with a UTF-8 byte-order mark (for Excel).")]


def _headers(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _start(bom: bool) -> str:
    return csv_export.BOM if bom else ""


@router.get("/unlocks/{task_id}/export.csv")
def task_export(
    rt: RuntimeDep, principal: SignedIn, task_id: Annotated[int, Path(ge=1, le=MAX_ID)], bom: Bom = False
) -> Response:
    """One row per person of the task; another account's task is not found (404)."""
    channel = task_history.task_channel(rt, principal.account_id, task_id)
    view = unlocks.get_task(rt, principal.account_id, task_id, channel)
    cards = task_history.people(rt, [item.personnel_id for item in view.items])
    rows = [csv_export.task_columns(channel), *csv_export.task_rows(view, cards)]
    body = _start(bom) + csv_export.encode(rows)
    return Response(body.encode("utf-8"), media_type=CSV_TYPE, headers=_headers(csv_export.task_filename(task_id)))


def _unlocked_page(rt: Runtime, account_id: int, page_no: int) -> Page[UnlockedView]:
    return unlocked_contacts.list_unlocked(rt, account_id, PageRequest(page_no, EXPORT_PAGE_SIZE), None)


def _unlocked_chunks(rt: Runtime, account_id: int, first: Page[UnlockedView], bom: bool) -> Iterator[bytes]:
    """The header, then one chunk per service page (each page its own read: memory stays one page)."""
    yield (_start(bom) + csv_export.encode([csv_export.UNLOCKED_COLUMNS])).encode("utf-8")
    current = first
    while True:
        if current.items:
            cards = task_history.people(rt, [item.personnel_id for item in current.items])
            yield csv_export.encode(csv_export.unlocked_rows(current.items, cards)).encode("utf-8")
        if not current.has_more:
            return
        current = _unlocked_page(rt, account_id, current.page + 1)


@router.get("/exports/unlocked.csv")
def unlocked_export(rt: RuntimeDep, principal: SignedIn, bom: Bom = False) -> Response:
    """Every contact the account unlocked (the data of ``GET /external/contacts/unlocked``), oldest first."""
    # The first page is read before the response starts, so a failure there is still a proper error page.
    first = _unlocked_page(rt, principal.account_id, 1)
    filename = csv_export.unlocked_filename(rt.clock.now())
    chunks = _unlocked_chunks(rt, principal.account_id, first, bom)
    return StreamingResponse(chunks, media_type=CSV_TYPE, headers=_headers(filename))
