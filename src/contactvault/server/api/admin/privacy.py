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
from contactvault.server.services import erasure, suppressions
from contactvault.server.services.idempotency import Reply

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


def _suppression(body: SuppressionCreate, suppressed: bool, changed: bool) -> Reply:
    return 200, {"kind": body.kind, "suppressed": suppressed, "changed": changed}


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
    value = _checked(body.kind, body.value)
    post = calls.Post(key, body.model_dump())
    return calls.run(
        request,
        rt,
        caller,
        lambda _: suppressions.suppress(rt, body.kind, value),
        lambda added: _suppression(body, True, added),
        calls.Call(target=body.kind),
        post,
    )


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
    value = _checked(body.kind, body.value)
    post = calls.Post(key, body.model_dump())
    return calls.run(
        request,
        rt,
        caller,
        lambda _: suppressions.unsuppress(rt, body.kind, value),
        lambda removed: _suppression(body, False, removed),
        calls.Call(target=body.kind),
        post,
    )


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
        return 200, {
            "personIds": report.person_ids,
            "accountsThatUnlocked": report.accounts,
            "contactPointsDeleted": report.contact_points_deleted,
            "unlockValuesErased": report.unlock_values_erased,
            "suppressionsAdded": report.suppressions_added,
            "inFlightItems": report.in_flight_items,
            "profileDeleted": report.profile_deleted,
            "traceId": trace_id,
        }

    return calls.run(request, rt, caller, act, render, calls.Call(target=body.kind), calls.Post(key, body.model_dump()))
