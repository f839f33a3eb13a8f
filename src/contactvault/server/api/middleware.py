"""Pure ASGI middleware: trace ids, security and rate-limit headers, the per-IP limit, body size limit, strict JSON,
UTF-8 query strings."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contactvault.server.api import ratelimit
from contactvault.server.api.ratelimit import Quota, RateLimiter

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
# Load balancers probe this; it must not eat the prober's per-IP budget.
UNLIMITED_PATHS = ("/healthz", "/readyz", "/metrics")
BODY_METHODS = (b"POST", b"PUT", b"PATCH")
CONSOLE_PATH = "/console"
# Where the auth dependency leaves the key limit's verdict for the headers added here.
KEY_QUOTA = "rate_limit_key"
IP_QUOTA = "rate_limit_ip"


def _error(status: int, key: str, message: str, trace_id: str, field: str | None = None) -> bytes:
    body: dict[str, Any] = {"code": status, "message": message, "errorKey": key, "traceId": trace_id}
    if field:
        body["details"] = {"field": field}
    return orjson.dumps(body)


def _query_problem(query_string: bytes, *, repeats_allowed: bool = False) -> tuple[str, str] | None:
    """(field, message) when a query parameter is not UTF-8, holds NUL (which PostgreSQL text cannot store) or is
    given twice (every API parameter is single-valued: which copy counts would be up to each parser). The console
    allows repeats: an HTML form sends one ``selected=`` per ticked checkbox, and its routes read those as lists."""
    if query_string.isascii() and b"%" not in query_string and b"\x00" not in query_string:
        # Nothing is escaped (most requests): the text is UTF-8 as it stands; only a repeat can be wrong.
        names = [pair.partition(b"=")[0].replace(b"+", b" ") for pair in query_string.split(b"&") if pair]
        if repeats_allowed or len(set(names)) == len(names):
            return None
    seen: set[str] = set()
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
        if name in seen and pair and not repeats_allowed:
            return field, f"Invalid {field}: the parameter is given more than once."
        seen.add(name)
        try:
            value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return field, f"Invalid {field}: the value is not valid UTF-8."
        if "\x00" in value:
            return field, f"Invalid {field}: NUL characters are not allowed."
    return None


class RequestContextMiddleware:
    """Gives every request a trace id (echoing a sane ``X-Request-ID``) and every response the headers we promise."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, limiter: RateLimiter | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace_id = secrets.token_hex(8)
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _SANE_REQUEST_ID.fullmatch(value):
                trace_id = value.decode()
        state = scope.setdefault("state", {})
        state["trace_id"] = trace_id
        extra = [(b"x-request-id", trace_id.encode())]
        if not scope["path"].startswith(DOCS_PATHS):
            extra += SECURITY_HEADERS
        else:
            extra += SECURITY_HEADERS[:3]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {n.lower() for n, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in extra + _rate_limit_headers(state, message["status"]) if h[0] not in present
                ]
            await send(message)

        problem = self._reject(scope)
        if problem is not None:
            status, message, field = problem
            await _send_error(send_with_headers, status, _error(status, "INVALID_REQUEST", message, trace_id, field))
            return
        if self.limiter is not None and scope["path"] not in UNLIMITED_PATHS:
            ip = _client_ip(scope)
            # A networked storage (PostgreSQL, Redis) is a round trip: not on the event loop.
            quota = self.limiter.hit_ip(ip) if self.limiter.local else await run_in_threadpool(self.limiter.hit_ip, ip)
            state[IP_QUOTA] = quota
            if quota is not None and not quota.allowed:
                await _send_error(
                    send_with_headers,
                    429,
                    _error(
                        429,
                        "RATE_LIMIT_EXCEEDED",
                        f"Too many requests from this address; retry in {quota.retry_after} s.",
                        trace_id,
                    ),
                )
                return
        app_receive = self._limited(receive, trace_id)
        if scope["method"].encode() in BODY_METHODS and _is_json(scope):
            buffered = await self._read_json_body(receive, send_with_headers, trace_id)
            if buffered is None:
                return
            app_receive = _replay(buffered, receive)
        try:
            await self.app(scope, app_receive, send_with_headers)
        except Exception:
            # The 500 itself is rendered outside every middleware (Starlette's ServerErrorMiddleware), where our
            # headers would be missing: send the same body from here and let the exception go on to be logged.
            if not started:
                await _send_error(send_with_headers, 500, _error(500, "INTERNAL_ERROR", "Internal error.", trace_id))
            raise

    def _reject(self, scope: Scope) -> tuple[int, str, str | None] | None:
        path = scope["path"]
        console = path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")
        problem = _query_problem(scope.get("query_string", b""), repeats_allowed=console)
        if problem is not None:
            field, message = problem
            return 400, message, field
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body_bytes:
                return 413, f"The body is larger than {self.max_body_bytes} bytes.", "body"
        return None

    def _limited(self, receive: Receive, trace_id: str) -> Receive:
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

    async def _read_json_body(self, receive: Receive, send: Send, trace_id: str) -> bytes | None:
        """The whole JSON body, or None after answering 400/413 (NaN, duplicate keys, non-UTF-8, too large)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app will see the same on its own receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                text = f"The body is larger than {self.max_body_bytes} bytes."
                await _send_error(send, 413, _error(413, "INVALID_REQUEST", text, trace_id, "body"))
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = strict_json_problem(body)
        if problem is not None:
            await _send_error(send, 400, _error(400, "INVALID_REQUEST", problem, trace_id, "body"))
            return None
        return body


class BodyTooLarge(Exception):
    """A chunked body went past the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The body is larger than {limit} bytes.")


class _NotStrictJson(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _NotStrictJson(f"The body contains {name}, which JSON does not allow.")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # Two parsers that keep different duplicates read different requests (a proxy and us, say): refuse.
        raise _NotStrictJson("The body has an object with a duplicate key.")
    return result


# Our bodies nest three deep; the framework parses again, deeper in the stack, so the cap keeps it far from the
# interpreter's recursion limit whatever the body.
MAX_JSON_DEPTH = 32


def strict_json_problem(body: bytes) -> str | None:
    """Why a body cannot be parsed as strict JSON, or None (an empty body is left to the framework's "required").

    Every unparseable body is refused here, so the framework never meets one: syntax errors, NaN/Infinity,
    duplicate keys, text that is not UTF-8 or holds a lone surrogate (which no UTF-8 column or reply can carry),
    numbers too long to convert, and nesting deeper than ``MAX_JSON_DEPTH`` (a RecursionError otherwise).
    """
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "The body is not valid UTF-8."
    try:
        parsed = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except _NotStrictJson as exc:
        return str(exc)
    except json.JSONDecodeError as exc:
        return f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
    except ValueError:
        return "The body is not valid JSON: a number has too many digits."
    except RecursionError:
        return f"The body nests deeper than {MAX_JSON_DEPTH} levels."
    return _shape_problem(parsed)


def _shape_problem(parsed: Any) -> str | None:
    """Nesting past the cap or a lone surrogate, walking the parsed body without recursion."""
    stack: list[tuple[Any, int]] = [(parsed, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and not _encodable(value):
                return "The body holds a lone UTF-16 surrogate, which is not a character."
        elif isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return f"The body nests deeper than {MAX_JSON_DEPTH} levels."
            children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_json(scope: Scope) -> bool:
    """Whether the framework will parse this body as JSON (no content type, ``application/json`` or ``+json``)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))
    return True


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _rate_limit_headers(state: dict[str, Any], status: int) -> list[tuple[bytes, bytes]]:
    key: Quota | None = state.get(KEY_QUOTA)
    ip: Quota | None = state.get(IP_QUOTA)
    headers = ratelimit.key_headers(key) if key is not None else []
    headers += ratelimit.ietf_headers([q for q in (key, ip) if q is not None])
    if status == 429:
        refused = [q for q in (key, ip) if q is not None and not q.allowed]
        if refused:
            headers.append(ratelimit.retry_after_header(max(refused, key=lambda q: q.retry_after)))
    return headers


async def _send_error(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
