"""Dependencies: the runtime, the caller's account, pagination and JSON rendering."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Query, Request
from starlette.responses import Response

from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts
from contactvault.server.services.directory import PageRequest


async def runtime(request: Request) -> Runtime:
    """The app's runtime (async: no I/O, so no trip through the thread pool)."""
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]


def current_account(
    request: Request,
    rt: RuntimeDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> int:
    """The account behind the bearer key (401 otherwise, one body for every failure)."""
    account_id = accounts.authenticate(rt, authorization)
    request.state.account_id = account_id
    return account_id


AccountId = Annotated[int, Depends(current_account)]


async def page_request(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number.")] = 1,
    page_size: Annotated[
        int, Query(alias="pageSize", ge=1, le=100, description="Items per page (1-100).")
    ] = 20,
) -> PageRequest:
    """Pagination parameters (20 per page by default)."""
    return PageRequest(page, page_size)


Page = Annotated[PageRequest, Depends(page_request)]


def json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response rendered with orjson."""
    return Response(
        orjson.dumps(body), status_code=status_code, media_type="application/json", headers=headers
    )
