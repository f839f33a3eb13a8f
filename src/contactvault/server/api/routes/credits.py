"""GET /external/credits/balance."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from contactvault.server.api import mappers
from contactvault.server.api.deps import AccountId, RuntimeDep, json
from contactvault.server.api.schemas import CreditBalancePublic
from contactvault.server.services import credits

router = APIRouter(prefix="/external/credits", tags=["credits"])


@router.get("/balance", response_model=CreditBalancePublic, summary="Credit balance of the key's account")
def balance(rt: RuntimeDep, account_id: AccountId) -> Response:
    """What the account can spend now, by bucket; ``reservedBalance`` is held by unfinished tasks."""
    return json(mappers.credit_balance(credits.balance(rt, account_id)))
