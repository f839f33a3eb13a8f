"""Operator API, scope ``privacy``: the opt-out list and erasure (``contactvault admin suppress|unsuppress|erase``).

Addresses travel in the body only (never in a path or query, which access logs keep), are never echoed, and the
idempotency digest of these bodies is keyed (``services/idempotency.keyed_fingerprint``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request
from starlette.responses import Response

from contactvault.server.api.admin import calls
from contactvault.server.api.admin.auth import Operator, router_for, scoped
from contactvault.server.api.admin.schemas import ErasureCreate, ErasurePublic, SuppressionCreate, SuppressionPublic
from contactvault.server.api.deps import RuntimeDep
from contactvault.server.api.errors import trace_id_of
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.domain.operators import OperatorScope
from contactvault.server.domain.tasks import parse_person_id
from contactvault.server.runtime import Runtime
from contactvault.server.services import erasure, suppressions
from contactvault.server.services.idempotency import Reply
from contactvault.server.services.operator_keys import OperatorCaller

router = router_for()
PRIVACY = scoped(OperatorScope.PRIVACY)
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _checked(kind: str, value: str) -> str:
    """The value as the CLI passes it on (an address trimmed; a person id checked), or ``InvalidRequest`` naming
    ``value`` without quoting it."""
    if kind == "person":
        if parse_person_id(value.strip()) is None:
            raise InvalidRequest("value is not a personnel id (digits); nothing was changed.", {"field": "value"})
        return value.strip()
    if suppressions.normal_value(kind, value) is None:
        raise InvalidRequest(f"value {suppressions.PROBLEMS[kind]}; nothing was changed.", {"field": "value"})
    return value.strip()


def _set_suppressed(
    request: Request, rt: Runtime, caller: OperatorCaller, body: SuppressionCreate, key: str | None, suppressed: bool
) -> Response:
    """Put the value on the opt-out list (or take it off); ``changed`` says whether it was not so already."""
    value = _checked(body.kind, body.value)
    change = suppressions.suppress if suppressed else suppressions.unsuppress

    def render(changed: bool) -> Reply:
        return 200, {"kind": body.kind, "suppressed": suppressed, "changed": changed}

    post = calls.Post(key, body.model_dump())
    return calls.run(
        request, rt, caller, lambda _: change(rt, body.kind, value), render, calls.Call(target=body.kind), post
    )


@router.post(
    "/suppressions",
    response_model=SuppressionPublic,
    operation_id="suppression_add",
    summary="Put an address or a person on the opt-out list",
    openapi_extra=PRIVACY,
)
def suppress(
    request: Request, rt: RuntimeDep, caller: Operator, body: SuppressionCreate, key: IdempotencyKey = None
) -> Response:
    """Never revealed, never charged from now on; values already revealed are hidden from every account."""
    return _set_suppressed(request, rt, caller, body, key, True)


@router.post(
    "/suppressions/remove",
    response_model=SuppressionPublic,
    operation_id="suppression_remove",
    summary="Take an address or a person off the opt-out list",
    openapi_extra=PRIVACY,
)
def unsuppress(
    request: Request, rt: RuntimeDep, caller: Operator, body: SuppressionCreate, key: IdempotencyKey = None
) -> Response:
    """Values revealed before show again."""
    return _set_suppressed(request, rt, caller, body, key, False)


@router.post(
    "/erasures",
    response_model=ErasurePublic,
    operation_id="person_erase",
    summary="Erase a person's contact data everywhere and keep them suppressed",
    openapi_extra=PRIVACY,
)
def erase(
    request: Request, rt: RuntimeDep, caller: Operator, body: ErasureCreate, key: IdempotencyKey = None
) -> Response:
    """Answers the accounts that had unlocked the person (tell them); running it again changes nothing."""
    value = _checked(body.kind, body.value)
    trace_id = trace_id_of(request)

    person = parse_person_id(value) if body.kind == "person" else None

    def act(_: object) -> erasure.ErasureReport:
        if person is not None:
            return erasure.erase_person(rt, person, delete_profile=body.delete_profile, trace_id=trace_id)
        return erasure.erase_address(rt, body.kind, value, delete_profile=body.delete_profile, trace_id=trace_id)

    def render(report: erasure.ErasureReport) -> Reply:
        return 200, report.as_json(trace_id)

    return calls.run(request, rt, caller, act, render, calls.Call(target=body.kind), calls.Post(key, body.model_dump()))
