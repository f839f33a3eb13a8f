"""Operator authentication: the bearer operator key, its rate limit and the scope each route declares.

The dependency is on every operator router (``router_for``), so a route added there is authenticated and scoped
without a line of its own; a route that declares no scope is refused (fail closed). A customer key, no key, or a
revoked key get the external API's 401 body; a valid key without the scope gets 403 ``INSUFFICIENT_SCOPE`` (audited).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from contactvault.server.api.deps import RuntimeDep, within_quota
from contactvault.server.api.errors import trace_id_of
from contactvault.server.api.ratelimit import RateLimiter
from contactvault.server.domain.errors import ScopeRequired
from contactvault.server.domain.operators import OperatorScope
from contactvault.server.services import operator_keys
from contactvault.server.services.operator_keys import CallRecord, OperatorCaller

log = logging.getLogger("contactvault.api.admin")

PREFIX = "/admin/v1"
TAG = "operator"
# Where a route declares its scope: in its OpenAPI operation, so the published document says it too.
SCOPE_FIELD = "x-operator-scope"


def scoped(scope: OperatorScope) -> dict[str, Any]:
    """A route's ``openapi_extra`` declaring the scope it needs."""
    return {SCOPE_FIELD: scope.value}


def declared_scope(request: Request) -> OperatorScope | None:
    """The scope the matched route declares, or None."""
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    raw = extra.get(SCOPE_FIELD)
    return OperatorScope(raw) if raw in {s.value for s in OperatorScope} else None


def operation_of(request: Request) -> str:
    """The matched route's operation id (``credits_grant``): what the audit row says was asked."""
    route = request.scope.get("route")
    return str(getattr(route, "operation_id", None) or getattr(route, "path", "unknown"))


def operator_caller(
    request: Request,
    rt: RuntimeDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> OperatorCaller:
    """The operator key behind the bearer header, within its rate limit and holding the route's scope."""
    caller = operator_keys.authenticate(rt, authorization)
    request.state.operator_key_id = caller.key_id
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        # Its own counter, apart from any customer key's (the ids are drawn separately).
        quota = limiter.hit_key(f"operator:{caller.key_id}")
        within_quota(request, quota)
    scope = declared_scope(request)
    if scope is None or scope.value not in caller.scopes:
        if scope is None:
            log.error("operator route %s declares no scope: refused", request.url.path)
        refused = ScopeRequired(scope.value if scope is not None else "undeclared")
        operator_keys.record_call(rt, caller, CallRecord(operation_of(request), 403), trace_id_of(request))
        raise refused
    operator_keys.touch(rt, caller)
    return caller


Operator = Annotated[OperatorCaller, Depends(operator_caller)]


def router_for() -> APIRouter:
    """A router under ``/admin/v1`` whose every route is authenticated and scoped by ``operator_caller``."""
    return APIRouter(prefix=PREFIX, tags=[TAG], dependencies=[Depends(operator_caller)])
