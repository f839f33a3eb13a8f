"""The console's security middleware: a strict CSP and browser headers on every console response, and the CSRF
check on every unsafe console request.

CSRF is refused with Fetch Metadata, as Go's ``http.CrossOriginProtection`` does: a browser sends
``Sec-Fetch-Site`` with every request and no page script can forge it; an unsafe request passes only when it is
``same-origin`` (or ``none``: the user typed it). Without that header, ``Origin`` must be this server's own origin;
without either, the request is refused. No token plumbing: plain HTML forms work without JavaScript. The session
cookie's ``SameSite=Lax`` is the second layer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_PREFIX = "/console"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
# Pages show balances and addresses: never stored by a browser or proxy. Static files are content-hashed.
NO_STORE = (b"cache-control", b"no-store")
STATIC_CACHE = (b"cache-control", b"public, max-age=31536000, immutable")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
FORBIDDEN_PAGE = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Refused - contactvault</title></head>"
    b"<body><main><h1>Request refused</h1><p>This request came from another site, so it was not carried out. "
    b'<a href="/console">Back to the console</a>.</p></main></body></html>'
)

SERVER_ERROR_PAGE = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Error - contactvault</title></head>"
    b"<body><main><h1>Something went wrong on our side</h1><p>Nothing was charged by this error. Try again; if it "
    b"keeps happening, tell your administrator the reference <code>{trace}</code>.</p>"
    b'<p><a href="/console">Back to the console</a></p></main></body></html>'
)


async def _send_page(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def own_origin(scope: Scope) -> str:
    """The origin the browser used to reach us (the scheme uvicorn saw; behind a TLS proxy, run uvicorn with
    ``--proxy-headers`` so that it is ``https``)."""
    host = _header(scope, b"host") or ""
    return f"{scope.get('scheme', 'http')}://{host}"


def cross_site(scope: Scope) -> bool:
    """Whether an unsafe request must be refused as cross-site (the check described in the module's doc)."""
    site = _header(scope, b"sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = _header(scope, b"origin")
    return origin is None or origin != own_origin(scope)


class ConsoleSecurityMiddleware:
    """Adds the console's headers to its responses and refuses cross-site unsafe requests with 403."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request."""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        extra = [*HEADERS, STATIC_CACHE if path.startswith(CONSOLE_PREFIX + "/static/") else NO_STORE]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {n.lower() for n, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in present]
            await send(message)

        if scope["method"] not in SAFE_METHODS and cross_site(scope):
            await _send_page(send_with_headers, 403, FORBIDDEN_PAGE)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            # The app's 500 handler runs outside every middleware, where the API's JSON body would be sent: a
            # console request gets a page instead, and the exception goes on to be logged.
            if not started:
                trace_id = str(scope.get("state", {}).get("trace_id", ""))
                await _send_page(send_with_headers, 500, SERVER_ERROR_PAGE.replace(b"{trace}", trace_id.encode()))
            raise
