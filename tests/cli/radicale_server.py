"""A real CardDAV server for the sync tests: Radicale (from PyPI) in a thread on a free loopback port.

Radicale's own WSGI application, with htpasswd ``plain`` auth and its filesystem storage in a temporary folder,
served by a threaded ``wsgiref`` server that stops when the block ends. A thin layer in front of it records every
request (method, path, status) and has two knobs Radicale itself cannot turn: ``rate_limit_next`` answers the next
n requests ``429`` with ``Retry-After`` without passing them on (Radicale never sends a 429), and
``drop_after_commit`` lets the next PUT reach Radicale (which stores the card) and then closes the connection
without an answer (a crash after the write). ``before_put`` runs just before a PUT is passed on (to change a card
under the client's feet). Everything else is Radicale's behaviour: ETags, ``If-Match``/``If-None-Match``,
addressbook-multiget and addressbook-query, vCard validation.
"""

from __future__ import annotations

import dataclasses
import logging
import socketserver
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

import httpx
import radicale.config
from radicale.app import Application

USER, PASSWORD = "alice", "s3cret-pass"
MKCOL = (
    b'<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
    b"<D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>"
)
DROP = "contactvault.test.drop"


@dataclasses.dataclass
class Radicale:
    """The running server; ``url`` is its root, ``requests`` every (method, path, status) it answered."""

    url: str = ""
    requests: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)
    rate_limit_next: int = 0
    retry_after: str = "1"
    drop_after_commit: bool = False
    before_put: Callable[[str], None] | None = None
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def client(self) -> httpx.Client:
        """A client with the test user's credentials for the tests' own looks and edits (passed straight on)."""
        return httpx.Client(base_url=self.url, auth=(USER, PASSWORD), timeout=10, headers={"x-test-client": "1"})

    def make_book(self, name: str = "contacts") -> str:
        """A new, empty address book; its collection URL."""
        with self.client() as http:
            response = http.request("MKCOL", f"/{USER}/{name}/", content=MKCOL)
        assert response.status_code == 201, response.text
        return f"{self.url}/{USER}/{name}/"

    def cards(self, book_url: str) -> dict[str, str]:
        """Every card in the address book: path → vCard text (read with PROPFIND and GET)."""
        with self.client() as http:
            listing = http.request("PROPFIND", book_url, headers={"depth": "1"})
            assert listing.status_code == 207
            hrefs = ET.fromstring(listing.content).iter("{DAV:}href")  # noqa: S314 - our own test server's answer
            paths = [unquote(urlsplit(h.text or "").path) for h in hrefs]
            return {p: http.get(p).text for p in paths if p.endswith(".vcf")}

    def put_card(self, path: str, text: str) -> None:
        """Create or replace a card as another CardDAV client would (no precondition)."""
        with self.client() as http:
            response = http.put(path, content=text.encode(), headers={"content-type": "text/vcard"})
        assert response.is_success, response.text

    def writes(self) -> list[str]:
        """The methods of the requests that change the store (PUT, DELETE), in order."""
        return [method for method, _, status in self.requests if method in ("PUT", "DELETE") and status < 300]

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """The recording, rate-limiting, connection-dropping layer in front of Radicale."""

        def layer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
            if environ.get("HTTP_X_TEST_CLIENT"):  # the test's own looks and edits: not recorded, never refused
                return app(environ, start_response)
            with self.lock:
                limited = self.rate_limit_next > 0
                self.rate_limit_next -= int(limited)
                drop = method == "PUT" and self.drop_after_commit
                self.drop_after_commit = self.drop_after_commit and not drop
            if limited:
                self.requests.append((method, path, 429))
                start_response("429 Too Many Requests", [("Retry-After", self.retry_after), ("Content-Length", "0")])
                return [b""]
            if method == "PUT" and self.before_put is not None:
                self.before_put(path)
            seen: list[int] = []

            def recording(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                seen.append(int(status.split()[0]))
                return start_response(status, headers, exc_info)

            body = b"".join(app(environ, recording))
            self.requests.append((method, path, seen[0]))
            if drop:
                environ[DROP] = True
            return [body]

        return layer


class _Answer(ServerHandler):
    def finish_response(self) -> None:
        if self.environ.get(DROP):  # type: ignore[attr-defined]  # the write is stored; the client hears nothing
            self.close()
            return
        super().finish_response()


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def handle(self) -> None:
        # wsgiref's own handle(), with _Answer instead of its ServerHandler.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536 or not self.parse_request():
            return
        answer = _Answer(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)  # type: ignore[arg-type]
        answer.request_handler = self  # type: ignore[attr-defined]
        answer.run(self.server.get_app())  # type: ignore[attr-defined]


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


@contextmanager
def serve(folder: Path) -> Iterator[Radicale]:
    """Radicale on 127.0.0.1, storing under ``folder``, until the block ends."""
    users = folder / "users"
    users.write_text(f"{USER}:{PASSWORD}\n", encoding="utf-8")
    config = radicale.config.load()
    settings = {
        # No fsync per write (a throwaway folder), no delay after a failed login: fast tests, same protocol.
        "storage": {"filesystem_folder": str(folder / "collections"), "_filesystem_fsync": "False"},
        "auth": {"type": "htpasswd", "htpasswd_filename": str(users), "htpasswd_encryption": "plain", "delay": "0"},
        "rights": {"type": "owner_only"},
    }
    config.update(settings, "tests", privileged=True)
    logging.getLogger("radicale").setLevel(logging.ERROR)
    running = Radicale()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.set_app(running.wrap(Application(config)))
    running.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
