"""A loopback fake provider: a real HTTP server on 127.0.0.1 in a thread, scripted per test, recording requests.

``script(...)`` queues answers (status, JSON body, headers, delay) served one per request in order; when the queue
is empty every request gets ``default``. Every request is recorded (method, path, query, headers, body).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow provider)


@dataclass(frozen=True)
class Seen:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


def found(email: str, status: str = "valid", score: int = 93) -> Reply:
    """A 200 answer in the shape the tests' mapping reads."""
    return Reply(200, {"data": {"email": email, "verification": {"status": status}, "score": score}})


class FakeProvider:
    """The server; ``url`` is its base URL. Use as a context manager."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default = Reply(404, {"data": None})
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests it held at once (from arrival to its answer)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-provider", daemon=True)

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:40123."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *replies: Reply) -> None:
        """Queue answers for the next requests."""
        with self._lock:
            self.replies.extend(replies)

    @property
    def calls(self) -> int:
        """Requests received so far."""
        with self._lock:
            return len(self.seen)

    def __enter__(self) -> FakeProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # releases slow answers at once
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            return self.replies.popleft() if self.replies else self.default

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads ``seen`` instead."""

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                reply = fake._next(Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers), body))
                stopping = bool(reply.delay) and fake._stopping.wait(reply.delay)
                # Done before the answer leaves: the client cannot send its next request before this point.
                fake._done()
                if stopping:
                    return
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = _serve
            do_POST = _serve

        return Handler
