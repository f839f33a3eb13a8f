"""Home: the balance (available and held), the most recent unlocks and where to go next."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from contactvault.server.api.deps import RuntimeDep
from contactvault.server.console.auth import SignedIn
from contactvault.server.console.render import page
from contactvault.server.services import credits, task_history

router = APIRouter(prefix="/console", include_in_schema=False)
RECENT = 5  # unlocks shown on the home page


@router.get("")
def home(request: Request, rt: RuntimeDep, principal: SignedIn) -> Response:
    """The signed-in account's balance and its most recent unlocks."""
    balance = credits.balance(rt, principal.account_id)
    recent = task_history.recent_tasks(rt, principal.account_id, RECENT)
    return page(request, "home.html", {"balance": balance, "recent": recent})
