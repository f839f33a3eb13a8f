"""Shared by the CRM contract fakes: serve a fake on a free loopback port for the length of a ``with`` block."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol, TypeVar


class Served(Protocol):
    """A fake that learns its base URL once it serves."""

    url: str


F = TypeVar("F", bound=Served)


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
