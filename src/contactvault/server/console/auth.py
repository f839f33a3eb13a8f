"""Who is signed in: the session cookie, the dependency every console page takes, sign-in and sign-out."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.responses import Response

from contactvault.server.api.deps import RuntimeDep
from contactvault.server.api.ratelimit import RateLimiter
from contactvault.server.config import Settings
from contactvault.server.services import console_sessions
from contactvault.server.services.console_sessions import Principal

SIGN_IN_PATH = "/console/sign-in"


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page (and back afterwards)."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign-in required")
        self.next_path = next_path


class TooManyRequests(Exception):
    """The signed-in key (or user) went past its rate limit."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


def cookie_name(settings: Settings) -> str:
    """``__Host-`` makes the browser insist on Secure, ``Path=/`` and no ``Domain``; it needs a secure cookie."""
    return "__Host-cv_session" if settings.console_secure_cookie else "cv_session"


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    """The session cookie: HttpOnly, Secure, SameSite=Lax, no Max-Age (the server ends sessions)."""
    response.set_cookie(
        cookie_name(settings),
        token,
        httponly=True,
        secure=settings.console_secure_cookie,
        samesite="lax",
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    """Tell the browser to drop the cookie."""
    response.delete_cookie(
        cookie_name(settings), path="/", secure=settings.console_secure_cookie, httponly=True, samesite="lax"
    )


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if raw and raw.startswith("/console") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/console"


def sign_in_url(next_path: str) -> str:
    """The sign-in page, remembering where the user was going."""
    return f"{SIGN_IN_PATH}?next={quote(safe_next(next_path), safe='/')}"


def signed_in(request: Request, rt: RuntimeDep) -> Principal:
    """The session's principal, within its rate limit; ``SignInRequired`` without a live session."""
    principal = console_sessions.resolve(rt, request.cookies.get(cookie_name(rt.settings)))
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    request.state.principal = principal
    request.state.account_id = principal.account_id
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        quota = limiter.hit_key(principal.key_id or f"user:{principal.user_id}")
        if quota is not None and not quota.allowed:
            raise TooManyRequests(quota.retry_after)
    return principal


SignedIn = Annotated[Principal, Depends(signed_in)]
