"""GET /external/credits/balance and (extension) GET /external/credits/transactions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from contactvault.server.api import mappers
from contactvault.server.api.deps import AccountId, Page, RuntimeDep, json, read
from contactvault.server.api.schemas import CreditBalancePublic, LedgerPage
from contactvault.server.services import credits, ledger_view

router = APIRouter(prefix="/external/credits", tags=["credits"])
MOMENT = "an ISO 8601 date-time (`Z` or an offset; none means UTC; a bare date is its midnight UTC)"


@router.get("/balance", response_model=CreditBalancePublic, summary="Credit balance of the key's account")
async def balance(rt: RuntimeDep, account_id: AccountId) -> Response:
    """What the account can spend now, by bucket; ``reservedBalance`` is held by unfinished tasks."""
    return json(mappers.credit_balance(await read(rt, credits.balance, rt, account_id)))


# What the document promises is exactly what the server takes: a positive id of up to 19 digits (leading zeros
# allowed; one past the largest id matches nothing), and known kinds; a value it calls valid is never refused (the
# schema-driven fuzz test checks this).
POSITIVE_ID = r"^0*[1-9][0-9]{0,18}$"
KINDS = r"^(grant|hold|capture|release|expire)(,(grant|hold|capture|release|expire))*$"


@router.get("/transactions", response_model=LedgerPage, summary="Itemised credit ledger (extension)")
def transactions(
    rt: RuntimeDep,
    account_id: AccountId,
    page: Page,
    task_id: Annotated[
        str | None, Query(max_length=20, pattern=POSITIVE_ID, description="Only this task's postings.")
    ] = None,
    kind: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=KINDS,
            description="Only these kinds, comma-separated: grant, hold, capture, release, expire.",
        ),
    ] = None,
    since: Annotated[str | None, Query(max_length=64, description=f"Only postings at or after {MOMENT}.")] = None,
    until: Annotated[str | None, Query(max_length=64, description=f"Only postings before {MOMENT}.")] = None,
    up_to_id: Annotated[
        str | None,
        Query(
            max_length=20,
            pattern=POSITIVE_ID,
            description="Only postings up to this one: the `upToId` of the first page, for the next.",
        ),
    ] = None,
) -> Response:
    """Every posting of the key's account, newest first: grants, holds, captures and releases, with the task and
    the `x-call-source` of each task's postings. Another account's postings are never listed."""
    query = ledger_view.LedgerQuery(
        task_id=ledger_view.parse_id(task_id, "task_id"),
        kinds=ledger_view.parse_kinds(k.strip() for k in (kind or "").split(",") if k.strip()),
        since=ledger_view.parse_moment(since, "since"),
        until=ledger_view.parse_moment(until, "until"),
        up_to_id=ledger_view.parse_id(up_to_id, "up_to_id"),
    )
    return json(mappers.ledger_page(ledger_view.history(rt, account_id, page, query)))
