"""Shared by the CRM contract fakes: serve a fake on a free loopback port for the length of a ``with`` block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, TypeVar


class Served(Protocol):
    """A fake that learns its base URL once it serves."""

    url: str


F = TypeVar("F", bound=Served)


class RestHandler(BaseHTTPRequestHandler):
    """A quiet handler that hands GET, POST, PATCH and DELETE to ``_serve(method)``."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        raise NotImplementedError


@contextmanager
def on_loopback(fake: F, handler: type[BaseHTTPRequestHandler]) -> Iterator[F]:
    """``fake`` (its ``url`` set) answered by ``handler`` on a free loopback port until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
