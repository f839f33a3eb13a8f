"""Home: the balance (available and held) and where to go next."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from contactvault.server.api.deps import RuntimeDep
from contactvault.server.console.auth import SignedIn
from contactvault.server.console.render import page
from contactvault.server.services import credits

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("")
def home(request: Request, rt: RuntimeDep, principal: SignedIn) -> Response:
    """The signed-in account's balance."""
    balance = credits.balance(rt, principal.account_id)
    return page(request, "home.html", {"balance": balance})
