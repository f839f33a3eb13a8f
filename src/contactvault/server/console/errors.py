"""Friendly error pages: the console answers its errors in HTML (a page, or a fragment for htmx), never in the
API's JSON. The API's handlers hand console paths here (``api/errors.py``: ``app.state.html_errors``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from contactvault.server.console import auth
from contactvault.server.console.render import is_htmx, page

TITLES = {
    400: "That request was not understood",
    401: "Please sign in",
    402: "Not enough credits",
    403: "Not allowed",
    404: "Not found",
    409: "That changed in the meantime",
    422: "Please check the form",
    429: "Too many requests",
    500: "Something went wrong on our side",
    503: "The service is busy",
}
HINTS = {
    404: "The page or item does not exist, or it belongs to another account.",
    409: "Reload the page to see the current state, then try again.",
    429: "Wait a few seconds, then try again.",
    500: "Nothing was charged by this error. Try again; if it keeps happening, tell your administrator the "
    "reference below.",
    503: "Nothing was charged. Try again in a few seconds.",
}


def is_console(request: Request) -> bool:
    """Whether a request is the console's (its errors are pages)."""
    path = request.url.path
    return path == "/console" or path.startswith("/console/")


def error_page(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The page (or, for htmx, the fragment) for an error; ``message`` is a text safe to show (never a value)."""
    context = {
        "status": status,
        "title": TITLES.get(status, "Something went wrong"),
        "message": message,
        "hint": HINTS.get(status),
        "trace_id": str(getattr(request.state, "trace_id", "") or ""),
    }
    return page(request, "error.html", context, block="error", status_code=status, headers=headers)


def sign_in_redirect(request: Request, exc: auth.SignInRequired) -> Response:
    """To the sign-in page, then back (htmx follows ``HX-Redirect`` with a full page load)."""
    target = auth.sign_in_url(exc.next_path)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
