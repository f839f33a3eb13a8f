"""Account: who is signed in, the balance, the itemised credit ledger, the API keys (create, revoke, rotate) and
the account's user logins.

A new key is shown once, on the response to the POST that made it (never stored raw, never in a URL); a reload
of the account page does not show it again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from contactvault.server.api.deps import RuntimeDep
from contactvault.server.console import auth
from contactvault.server.console.render import page
from contactvault.server.domain.errors import InvalidRequest, StateConflict
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts, console_users, credits, ledger_view
from contactvault.server.services.console_sessions import Principal
from contactvault.server.services.directory import PageRequest

router = APIRouter(prefix="/console", include_in_schema=False)
LEDGER_PAGE_SIZE = 25
# What a rotation may leave the old key working for: short, a working day, a week (the console's choices).
OVERLAPS = {
    "1h": ("1 hour", timedelta(hours=1)),
    "24h": ("24 hours", timedelta(hours=24)),
    "7d": ("7 days", timedelta(days=7)),
}
CANNOT_ROTATE = (
    "This key cannot be rotated now: it is already being rotated, or it was revoked or has expired. "
    "Reload the account page to see its state."
)


def _task_filter(raw: str | None) -> int | None:
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19):
        raise InvalidRequest("task must be a task id (digits).", {"field": "task"})
    return int(raw)


def _ledger_context(
    rt: Runtime, principal: Principal, page_no: int, task: str | None, kind: str | None
) -> dict[str, Any]:
    task_id = _task_filter(task)
    kinds = ledger_view.parse_kinds([kind] if kind else [])
    ledger = ledger_view.entries(
        rt, principal.account_id, PageRequest(page_no, LEDGER_PAGE_SIZE), task_id=task_id, kinds=kinds
    )
    params = {k: v for k, v in (("task", str(task_id) if task_id else ""), ("kind", kind or "")) if v}

    def ledger_url(number: int) -> str:
        return "/console/account?" + urlencode({**params, "page": number}) + "#ledger"

    return {"ledger": ledger, "ledger_url": ledger_url, "task": task_id, "kind": kind or "", "filtered": bool(params)}


def _account_context(rt: Runtime, principal: Principal) -> dict[str, Any]:
    return {
        "section": "account",
        "account_name": accounts.account_name(rt, principal.account_id),
        "balance": credits.balance(rt, principal.account_id),
        "keys": accounts.list_keys(rt, principal.account_id),
        "users": console_users.list_users(rt, principal.account_id),
        "label": "",
        "label_error": None,
        "revoked": None,
    }


@router.get("/account")
def account_page(
    request: Request,
    rt: RuntimeDep,
    principal: auth.SignedIn,
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    task: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    revoked: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """The account page (htmx asks only for the ledger block when paging or filtering)."""
    context = _ledger_context(rt, principal, page_no, task, kind)
    context.update(_account_context(rt, principal))
    # Only a key of this account that is really revoked is announced (the parameter is the user's to change).
    context["revoked"] = next((k for k in context["keys"] if k.key_id == revoked and k.state == "revoked"), None)
    return page(request, "account/account.html", context, block="ledger")


@router.post("/account/keys")
def create_key(
    request: Request,
    rt: RuntimeDep,
    principal: auth.SignedIn,
    label: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Issue a key for the signed-in account and show it once."""
    try:
        issued = accounts.create_key(rt, principal.account_id, label)
    except InvalidRequest as exc:
        context = _ledger_context(rt, principal, 1, None, None)
        context.update(_account_context(rt, principal), label=label[:200], label_error=exc.message)
        return page(request, "account/account.html", context, block="create_key", status_code=422)
    info = accounts.account_key(rt, principal.account_id, issued.key_id)
    context = {"section": "account", "issued": issued, "info": info, "replaced": None, "old_expires_at": None}
    return page(request, "account/key_shown.html", context, status_code=201)


@router.get("/account/keys/{key_id}/revoke")
def revoke_form(request: Request, rt: RuntimeDep, principal: auth.SignedIn, key_id: str) -> Response:
    """The confirm step before a revocation (it says so when the key is the one this session signed in with)."""
    key = accounts.account_key(rt, principal.account_id, key_id)
    return page(request, "account/revoke.html", {"section": "account", "key": key})


@router.post("/account/keys/{key_id}/revoke")
def revoke(request: Request, rt: RuntimeDep, principal: auth.SignedIn, key_id: str) -> Response:
    """Revoke one of the account's keys; its console sessions end (this one too, when signed in with it)."""
    accounts.revoke_account_key(rt, principal.account_id, key_id)
    if principal.key_id == key_id:
        response = RedirectResponse(auth.SIGN_IN_PATH + "?signed_out=1", status_code=303)
        auth.clear_session_cookie(response, rt.settings)
        return response
    return RedirectResponse("/console/account?" + urlencode({"revoked": key_id}), status_code=303)


@router.get("/account/keys/{key_id}/rotate")
def rotate_form(request: Request, rt: RuntimeDep, principal: auth.SignedIn, key_id: str) -> Response:
    """Choose how long the old key keeps working after its successor is issued."""
    key = accounts.account_key(rt, principal.account_id, key_id)
    return page(request, "account/rotate.html", _rotate_context(key, "24h", None))


def _rotate_context(key: accounts.KeyInfo, overlap: str, error: str | None) -> dict[str, Any]:
    options = [(value, text) for value, (text, _) in OVERLAPS.items()]
    return {"section": "account", "key": key, "overlaps": options, "overlap": overlap, "overlap_error": error}


@router.post("/account/keys/{key_id}/rotate")
def rotate(
    request: Request,
    rt: RuntimeDep,
    principal: auth.SignedIn,
    key_id: str,
    overlap: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Issue a successor key and show it once, with the old key's expiry."""
    if overlap not in OVERLAPS:
        key = accounts.account_key(rt, principal.account_id, key_id)
        error = "Choose how long the old key keeps working: 1 hour, 24 hours or 7 days."
        return page(request, "account/rotate.html", _rotate_context(key, "24h", error), status_code=422)
    try:
        issued, old_expires_at = accounts.rotate_account_key(rt, principal.account_id, key_id, OVERLAPS[overlap][1])
    except StateConflict:
        key = accounts.account_key(rt, principal.account_id, key_id)
        return page(request, "account/rotate.html", _rotate_context(key, overlap, CANNOT_ROTATE), status_code=409)
    context = {
        "section": "account",
        "issued": issued,
        "info": accounts.account_key(rt, principal.account_id, issued.key_id),
        "replaced": key_id,
        "old_expires_at": old_expires_at,
    }
    return page(request, "account/key_shown.html", context, status_code=201)
