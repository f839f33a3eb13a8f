"""Operator API, scope ``credits``: grants and balances (``contactvault admin credits grant``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Header, Request
from starlette.responses import Response

from contactvault.server.api import mappers
from contactvault.server.api.admin import calls
from contactvault.server.api.admin.auth import Operator, router_for, scoped
from contactvault.server.api.admin.ids import AccountIdPath, parse_account_id
from contactvault.server.api.admin.schemas import GrantCreate
from contactvault.server.api.deps import RuntimeDep
from contactvault.server.api.schemas import CreditBalancePublic
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.domain.ledger import BucketKind
from contactvault.server.domain.operators import OperatorScope
from contactvault.server.services import credits
from contactvault.server.services.idempotency import Keep, Reply

router = router_for()
CREDITS = scoped(OperatorScope.CREDITS)


def _expiry(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest("expires is not an ISO 8601 date-time.", {"field": "expires"}) from None
    if moment.tzinfo is None:
        raise InvalidRequest("expires needs a timezone, e.g. 2027-01-01T00:00:00Z.", {"field": "expires"})
    return moment


def _balance(b: credits.Balance) -> Reply:
    return 200, mappers.credit_balance(b)


@router.post(
    "/accounts/{account_id}/credits/grants",
    status_code=201,
    response_model=CreditBalancePublic,
    operation_id="credits_grant",
    summary="Grant credits (answers the new balance)",
    openapi_extra=CREDITS,
)
def grant(
    request: Request,
    rt: RuntimeDep,
    caller: Operator,
    body: GrantCreate,
    account_id: AccountIdPath,
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Add a bucket of credits to the account; with an ``Idempotency-Key`` (what a billing system should send)
    a retry never grants twice: the grant and its stored reply commit together."""
    owner = parse_account_id(account_id)
    expires = _expiry(body.expires)

    def act(keep: Keep[credits.Balance] | None) -> credits.Balance:
        return credits.grant(rt, owner, body.amount, BucketKind(body.bucket), expires, keep)

    def render(b: credits.Balance) -> Reply:
        return 201, mappers.credit_balance(b)

    post = calls.Post(key, body.model_dump(), atomic=True)
    return calls.run(request, rt, caller, act, render, calls.Call(owner, body.bucket, body.amount), post)


@router.get(
    "/accounts/{account_id}/credits/balance",
    response_model=CreditBalancePublic,
    operation_id="credits_balance",
    summary="An account's credit balance",
    openapi_extra=CREDITS,
)
def balance(request: Request, rt: RuntimeDep, caller: Operator, account_id: AccountIdPath) -> Response:
    """The account's CreditBalance, as the account itself sees it."""
    owner = parse_account_id(account_id)
    return calls.run(request, rt, caller, lambda _: credits.account_balance(rt, owner), _balance, calls.Call(owner))
