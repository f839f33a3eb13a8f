"""Dependencies: the runtime, the caller's account, pagination and JSON rendering."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import orjson
from fastapi import Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from contactvault.server.api.middleware import KEY_QUOTA
from contactvault.server.api.ratelimit import Quota, RateLimiter
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts
from contactvault.server.services.directory import PageRequest


async def runtime(request: Request) -> Runtime:
    """The app's runtime (async: no I/O, so no trip through the thread pool)."""
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]
P = ParamSpec("P")
T = TypeVar("T")


async def read(rt: Runtime, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a read-only service call: on a SQLite file right here on the event loop, elsewhere in the thread pool.

    A page of indexed rows from SQLite costs less than the thread-pool hand-over (and the GIL hand-overs between
    a dozen pool threads under load: docs/benchmarks.md, "Per-request cost"); PostgreSQL's reads wait on the
    network and go to the pool. ``fn`` must not write: ``Database.write`` refuses on the loop.
    """
    if not rt.db.reads_on_loop:
        return await run_in_threadpool(fn, *args, **kwargs)
    with rt.db.on_loop():
        return fn(*args, **kwargs)


def within_quota(request: Request, quota: Quota | None) -> None:
    """Keep the key's quota for the rate-limit headers; 429 (with ``Retry-After``) when it is spent."""
    setattr(request.state, KEY_QUOTA, quota)
    if quota is not None and not quota.allowed:
        raise HTTPException(
            429,
            f"Rate limit of {quota.limit} requests per {quota.window} s exceeded; retry in {quota.retry_after} s.",
            headers={"Retry-After": str(quota.retry_after)},
        )


async def current_account(request: Request) -> int:
    """The account behind the bearer key (401 otherwise, one body for every failure), within its rate limit.

    The key limit is checked here, before any handler work (idempotency included), so a 429 stores nothing.
    Async so that a cached key, an in-memory rate limit and a fresh last-use stamp cost no thread-pool hop; what
    needs I/O (a key read, a networked rate-limit storage, the once-a-minute last-use write) goes to the pool. It
    reads the header and the runtime itself rather than through sub-dependencies: each costs a request dozens of
    µs in FastAPI's dependency solving, and the header is not in the OpenAPI document (the bearer scheme is).
    """
    rt: Runtime = request.app.state.runtime
    authorization = request.headers.get("authorization")
    caller = accounts.cached_caller(rt, authorization)
    if caller is None:
        caller = await run_in_threadpool(accounts.authenticate_key, rt, authorization)
    request.state.account_id = caller.account_id
    request.state.key_id = caller.key_id  # per-key caps (long-polls)
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        if limiter.local:
            quota = limiter.hit_key(caller.key_id)
        else:
            quota = await run_in_threadpool(limiter.hit_key, caller.key_id)
        within_quota(request, quota)
    if accounts.touch_due(rt, caller):
        await run_in_threadpool(accounts.touch_key, rt, caller)
    return caller.account_id


AccountId = Annotated[int, Depends(current_account)]


async def page_request(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number.")] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=100, description="Items per page (1-100).")] = 20,
) -> PageRequest:
    """Pagination parameters (20 per page by default)."""
    return PageRequest(page, page_size)


Page = Annotated[PageRequest, Depends(page_request)]


def json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response rendered with orjson."""
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json", headers=headers)
