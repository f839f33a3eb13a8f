"""Pure ASGI middleware: trace ids, security headers, body size limit, UTF-8 query strings."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
# The interactive docs load their scripts and styles; everything else is JSON.
DOCS_PATHS = ("/docs", "/redoc")


def _error(status: int, key: str, message: str, trace_id: str, field: str | None = None) -> bytes:
    body: dict[str, Any] = {"code": status, "message": message, "errorKey": key, "traceId": trace_id}
    if field:
        body["details"] = {"field": field}
    return orjson.dumps(body)


def _query_problem(query_string: bytes) -> tuple[str, str] | None:
    """(field, message) when a query parameter is not UTF-8 or holds NUL (which PostgreSQL text cannot store)."""
    for pair in query_string.split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        try:
            name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return "query", "The query string is not valid UTF-8."
        # Name the parameter only when it is a plain identifier: the message must not echo arbitrary input.
        field = name if _PARAMETER_NAME.fullmatch(name) else "query"
        if "\x00" in name:
            return field, "The query string must not contain NUL characters."
        try:
            value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return field, f"Invalid {field}: the value is not valid UTF-8."
        if "\x00" in value:
            return field, f"Invalid {field}: NUL characters are not allowed."
    return None


class RequestContextMiddleware:
    """Gives every request a trace id (echoing a sane ``X-Request-ID``) and every response the headers we promise."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace_id = secrets.token_hex(8)
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _SANE_REQUEST_ID.fullmatch(value):
                trace_id = value.decode()
        scope.setdefault("state", {})["trace_id"] = trace_id
        extra = [(b"x-request-id", trace_id.encode())]
        if not scope["path"].startswith(DOCS_PATHS):
            extra += SECURITY_HEADERS
        else:
            extra += SECURITY_HEADERS[:3]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {n.lower() for n, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in extra if h[0] not in present
                ]
            await send(message)

        problem = self._reject(scope)
        if problem is not None:
            status, message, field = problem
            await _send_error(
                send_with_headers, status, _error(status, "INVALID_REQUEST", message, trace_id, field)
            )
            return
        await self.app(scope, self._limited(receive, send_with_headers, trace_id), send_with_headers)

    def _reject(self, scope: Scope) -> tuple[int, str, str | None] | None:
        problem = _query_problem(scope.get("query_string", b""))
        if problem is not None:
            field, message = problem
            return 400, message, field
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                return 413, f"The body is larger than {self.max_body_bytes} bytes.", "body"
        return None

    def _limited(self, receive: Receive, send: Send, trace_id: str) -> Receive:
        seen = 0
        limit = self.max_body_bytes

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return wrapped


class BodyTooLarge(Exception):
    """A chunked body went past the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The body is larger than {limit} bytes.")


async def _send_error(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
