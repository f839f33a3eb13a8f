"""Sign in with an email and a password (a console user of an account; see ``services/console_users``).

Every failure answers alike ("email or password not accepted"), whatever the cause. Attempts are rate limited per
client address (the API's per-IP limit covers every request) and per email, counted under a hash of the address:
the limiter's storage never holds an email.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from contactvault.server.api.deps import RuntimeDep
from contactvault.server.api.ratelimit import RateLimiter
from contactvault.server.console import auth
from contactvault.server.console.render import is_htmx, page
from contactvault.server.services import console_sessions, console_users

router = APIRouter(prefix="/console", include_in_schema=False)
NOT_ACCEPTED = "Email or password not accepted. Check both and try again."
MAX_FORM_PASSWORD = 4096


def _too_many(request: Request, email: str) -> int | None:
    """Seconds to wait when this email had too many attempts in the window, else None (and the attempt counts)."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return None
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]
    quota = limiter.hit_key("user-signin:" + digest)
    return quota.retry_after if quota is not None and not quota.allowed else None


@router.get("/sign-in/password")
async def password_form(request: Request, rt: RuntimeDep, next: Annotated[str | None, Query()] = None) -> Response:
    """The sign-in page with the email-and-password form (a signed-in browser goes straight on)."""
    token = request.cookies.get(auth.cookie_name(rt.settings))
    if token and await run_in_threadpool(console_sessions.resolve, rt, token) is not None:
        return RedirectResponse(auth.safe_next(next), status_code=303)
    return page(request, "sign_in.html", {"next": auth.safe_next(next), "method": "password", "email": ""})


@router.post("/sign-in/password")
def sign_in_with_password(
    request: Request,
    rt: RuntimeDep,
    email: Annotated[str, Form(max_length=400)] = "",
    password: Annotated[str, Form(max_length=MAX_FORM_PASSWORD)] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Verify the password (argon2id, in the thread pool: this route is a plain ``def``) and open a session."""
    target = auth.safe_next(next)
    context = {"next": target, "method": "password", "email": email.strip()[:320], "user_error": NOT_ACCEPTED}
    if not email.strip() or not password:
        context["user_error"] = "Enter your email and your password to sign in."
        return page(request, "sign_in.html", context, block="password_form", status_code=422)
    wait = _too_many(request, email)
    if wait is not None:
        context["user_error"] = f"Too many sign-in attempts for this email. Wait {wait} s, then try again."
        headers = {"Retry-After": str(wait)}
        return page(request, "sign_in.html", context, block="password_form", status_code=429, headers=headers)
    try:
        session = console_users.sign_in(rt, email, password)
    except console_users.SignInRefused:
        return page(request, "sign_in.html", context, block="password_form", status_code=422)
    response: Response = RedirectResponse(target, status_code=303)
    if is_htmx(request):
        response = Response(status_code=204, headers={"HX-Redirect": target})
    auth.set_session_cookie(response, rt.settings, session.token)
    return response
