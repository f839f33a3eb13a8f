"""What every HTTP request leaves behind: one access-log line, with the route template, never raw values (rules in
``logs.py``), and the request metrics by method, route template and status.

One pure ASGI middleware does both (timing, the status and the route are the same for each): every layer around
the app costs each request its own wrapped ``send`` and coroutine frame (docs/benchmarks.md, "Per-request cost").
"""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contactvault.server import metrics
from contactvault.server.logs import neutralise

access_log = logging.getLogger("contactvault.access")

_PLAIN_SEGMENT = re.compile(r"[A-Za-z][A-Za-z_-]{0,39}")


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(scope: Scope) -> str:
    """The matched route template, or ``unmatched``: a raw path never becomes a label (unbounded, may be personal)."""
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) and template else "unmatched"


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


class RequestRecordMiddleware:
    """One INFO line per HTTP request on ``contactvault.access``, and the request counted and timed in the metrics.

    Outermost, so it sees every answer (429s and 413s of the request-context middleware included).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request; log and count it when it ends (also when it raised: a 500)."""
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
            elapsed = time.perf_counter() - started
            raw_method = str(scope.get("method", ""))
            label_method = raw_method if raw_method in KNOWN_METHODS else "other"
            label_route = route_label(scope)
            metrics.HTTP_REQUESTS.labels(method=label_method, route=label_route, status=str(status)).inc()
            metrics.HTTP_LATENCY.labels(method=label_method, route=label_route).observe(elapsed)
            state = scope.get("state", {})
            method = neutralise(raw_method)[:16]
            path = neutralise(route_of(scope))[:200]
            duration_ms = round(elapsed * 1000, 1)
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
