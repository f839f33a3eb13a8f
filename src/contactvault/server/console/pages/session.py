"""Sign in (with an API key) and sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from contactvault.server.api.deps import RuntimeDep
from contactvault.server.console import auth
from contactvault.server.console.render import page
from contactvault.server.domain.errors import InvalidApiKey
from contactvault.server.services import console_sessions

router = APIRouter(prefix="/console", include_in_schema=False)
MAX_KEY_LENGTH = 200
WRONG_KEY = "That API key was not accepted. Check that you copied all of it, and that it has not been revoked."


@router.get("/sign-in")
async def sign_in_form(request: Request, rt: RuntimeDep, next: Annotated[str | None, Query()] = None) -> Response:
    """The sign-in page (a signed-in browser goes straight on)."""
    token = request.cookies.get(auth.cookie_name(rt.settings))
    if token and await run_in_threadpool(console_sessions.resolve, rt, token) is not None:
        return RedirectResponse(auth.safe_next(next), status_code=303)
    return page(request, "sign_in.html", {"next": auth.safe_next(next), "error": None})


@router.post("/sign-in")
def sign_in(
    request: Request,
    rt: RuntimeDep,
    api_key: Annotated[str, Form(max_length=MAX_KEY_LENGTH)] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Verify the key against its hash and open a session (the raw key is never stored or echoed)."""
    target = auth.safe_next(next)
    try:
        session = console_sessions.sign_in_with_key(rt, api_key)
    except InvalidApiKey:
        context = {"next": target, "error": WRONG_KEY if api_key.strip() else "Paste your API key to sign in."}
        return page(request, "sign_in.html", context, block="form", status_code=422)
    response: Response = RedirectResponse(target, status_code=303)
    if request.headers.get("hx-request") == "true":
        response = Response(status_code=204, headers={"HX-Redirect": target})
    auth.set_session_cookie(response, rt.settings, session.token)
    return response


@router.post("/sign-out")
def sign_out(request: Request, rt: RuntimeDep) -> Response:
    """End this session, here and on the server."""
    console_sessions.sign_out(rt, request.cookies.get(auth.cookie_name(rt.settings)))
    response = RedirectResponse(auth.SIGN_IN_PATH + "?signed_out=1", status_code=303)
    auth.clear_session_cookie(response, rt.settings)
    return response
