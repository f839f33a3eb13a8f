"""Unlock history: every unlock task of the signed-in account, newest first, with a status filter, pages and the
links to export everything unlocked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from contactvault.server.api.deps import RuntimeDep
from contactvault.server.console.auth import SignedIn
from contactvault.server.console.render import is_htmx, page
from contactvault.server.services import task_history
from contactvault.server.services.directory import PageRequest
from contactvault.server.services.task_history import HistoryFilter

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 25
MAX_PAGE = 1_000_000


def history_url(status: HistoryFilter, page_no: int = 1) -> str:
    """The history page's URL for a filter and page (the default parts left out)."""
    params = []
    if status is not HistoryFilter.ALL:
        params.append(f"status={status.value}")
    if page_no > 1:
        params.append(f"page={page_no}")
    return "/console/unlocks" + ("?" + "&".join(params) if params else "")


@router.get("/unlocks")
def unlock_history(
    request: Request,
    rt: RuntimeDep,
    principal: SignedIn,
    status: Annotated[HistoryFilter, Query()] = HistoryFilter.ALL,
    page_no: Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    """The account's unlock tasks (htmx asks for the ``results`` block when the filter changes)."""
    tasks = task_history.list_tasks(rt, principal.account_id, PageRequest(page_no, PAGE_SIZE), status)
    context = {
        "tasks": tasks,
        "status": status,
        "filters": list(HistoryFilter),
        "page_url": lambda n: history_url(status, n),
        "swapped": is_htmx(request),
    }
    return page(request, "history/list.html", context, block="results")
