"""The access log: one line per HTTP request, with the route template, never raw values (rules in ``logs.py``)."""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contactvault.server.logs import neutralise

access_log = logging.getLogger("contactvault.access")

_PLAIN_SEGMENT = re.compile(r"[A-Za-z][A-Za-z_-]{0,39}")


def route_of(scope: Scope) -> str:
    """The matched route template (``/external/contacts/unlock-tasks/{task_id}``), never raw values.

    An unmatched path is logged with every segment that is not a plain word replaced, since it may carry anything
    a caller typed (an address, a key).
    """
    template = getattr(scope.get("route"), "path", None)
    if isinstance(template, str):
        return template
    segments = str(scope.get("path", "")).split("/")
    return "/".join(s if not s or _PLAIN_SEGMENT.fullmatch(s) else "{redacted}" for s in segments)


class AccessLogMiddleware:
    """One INFO line per HTTP request on ``contactvault.access``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and log it when it ends (also when it raised)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            state = scope.get("state", {})
            method = neutralise(str(scope.get("method", "")))[:16]
            path = neutralise(route_of(scope))[:200]
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            access_log.info(
                "%s %s %s %.1fms",
                method,
                path,
                status,
                duration_ms,
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "trace_id": state.get("trace_id"),
                    "account_id": str(state["account_id"]) if state.get("account_id") is not None else None,
                    "duration_ms": duration_ms,
                },
            )
