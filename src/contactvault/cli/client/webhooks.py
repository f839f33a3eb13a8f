"""``contactvault webhooks verify|test|listen``: check a delivery, ask for a test message, receive locally.

``verify`` and ``listen`` use ``contactvault.webhooks`` (the SDK's verifier), ``test`` calls the API through the
SDK; nothing here imports the server. ``listen`` is for local development: a loopback HTTP receiver that verifies
each delivery, prints one line per message (never an email or phone unless ``--show-pii``) and forwards the exact
bytes and headers to ``--forward-to``.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import httpx
import typer

from contactvault.cli.client.common import ApiKeyOpt, BaseUrlOpt, InsecureOpt, JsonOpt, connect, handled_errors, out
from contactvault.cli.common import EXIT_FAILED, EXIT_USAGE, emit, fail
from contactvault.webhooks import WebhookVerificationError, verify_webhook

__all__ = ["Listener", "register", "summary"]

webhooks_app = typer.Typer(help="Check, test and receive webhook deliveries.", no_args_is_help=True)

SecretOpt = Annotated[
    list[str],
    typer.Option(
        "--secret", help="A whsec_… signing secret (repeat during a rotation).", envvar="CONTACTVAULT_WEBHOOK_SECRET"
    ),
]
# Headers a proxy must not copy from one hop to the next (RFC 9110 section 7.6.1), plus the ones httpx sets.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
MAX_BODY = 10 * 1024 * 1024


def register(app: typer.Typer) -> None:
    """Add ``webhooks`` to the ``contactvault`` app."""
    app.add_typer(webhooks_app, name="webhooks", rich_help_panel="Client")


def _parse_headers(raw: Sequence[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in raw:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            fail(f"--header must be 'name:value', not {item[:40]!r}", EXIT_USAGE)
        headers[name.strip().lower()] = value.strip()
    return headers


@webhooks_app.command()
def verify(
    secret: SecretOpt,
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="A received header, 'name:value' (repeatable).")
    ] = None,
    tolerance: Annotated[int, typer.Option("--tolerance", min=0, help="Seconds a timestamp may be off.")] = 300,
) -> None:
    """Verify a delivery: the raw body on stdin, its webhook-id/-timestamp/-signature headers as --header.

    Exit 0 and print the message id when it is genuine; exit 1 with the reason when not.
    """
    headers = _parse_headers(header or [])
    body = sys.stdin.buffer.read()
    try:
        message_id = verify_webhook(body, headers, secret, tolerance=tolerance)
    except WebhookVerificationError as exc:
        fail(f"not verified: {exc}", EXIT_FAILED)
    out().print(f"verified: {message_id}", highlight=False)


@webhooks_app.command("test")
def send_test(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id.")],
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Ask the server to send a webhook.test message to one of your endpoints."""
    with handled_errors(base_url, api_key), connect(base_url, api_key, insecure=insecure) as client:
        message_id = client.webhooks.test(endpoint_id)
    if json_output:
        emit({"messageId": message_id})
    else:
        out().print(f"queued webhook.test {message_id} for endpoint {endpoint_id}", highlight=False)


def summary(message_id: str, body: bytes, *, show_pii: bool) -> str:
    """One line about a verified message: id, type, the task or person it is about; values only with show_pii."""
    try:
        doc = json.loads(body)
    except ValueError:
        return f"{message_id} (not JSON, {len(body)} bytes)"
    if not isinstance(doc, dict):
        return f"{message_id} (not a JSON object)"
    raw = doc.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    parts = [message_id, str(doc.get("type", "?"))]
    for key in ("taskId", "personnelId", "endpointId", "status", "sequence", "counts"):
        if key in data:
            parts.append(f"{key}={json.dumps(data[key], separators=(',', ':'))}")
    results = data.get("results")
    if isinstance(results, list):
        parts.append(f"results={len(results)}")
        if show_pii:
            values = [str(r.get("value")) for r in results if isinstance(r, dict) and r.get("value")]
            parts.append("values=" + ",".join(values))
    return " ".join(parts)


class Listener:
    """A loopback receiver: verify, print a line, forward the exact bytes and headers; ``close`` stops it."""

    def __init__(
        self,
        port: int,
        secrets: Sequence[str],
        *,
        forward_to: str | None = None,
        show_pii: bool = False,
        echo: Callable[[str], None] = print,
        tolerance: int = 300,
    ) -> None:
        self.forward = httpx.Client(timeout=15.0, follow_redirects=False, trust_env=False) if forward_to else None
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                code, reply = listener.handle(
                    self.rfile.read(min(int(self.headers.get("content-length", "0")), MAX_BODY)),
                    list(self.headers.items()),
                )
                self.send_response(code)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self._secrets, self._forward_to, self._show_pii, self._echo = list(secrets), forward_to, show_pii, echo
        self._tolerance = tolerance
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def handle(self, body: bytes, raw_headers: list[tuple[str, str]]) -> tuple[int, bytes]:
        """Verify one delivery and forward it; the status to answer and a short body."""
        headers = {k.lower(): v for k, v in raw_headers}
        try:
            message_id = verify_webhook(body, headers, self._secrets, tolerance=self._tolerance)
        except WebhookVerificationError as exc:
            self._echo(f"rejected: {exc}")
            return 401, b"not verified"
        line = summary(message_id, body, show_pii=self._show_pii)
        if self.forward is None or self._forward_to is None:
            self._echo(line)
            return 200, b"ok"
        passed = [(k, v) for k, v in raw_headers if k.lower() not in _HOP_BY_HOP]
        try:
            answer = self.forward.post(self._forward_to, content=body, headers=passed)
        except httpx.HTTPError as exc:
            self._echo(f"{line} -> forward failed: {exc.__class__.__name__}")
            return 502, b"forward failed"
        self._echo(f"{line} -> {answer.status_code}")
        return answer.status_code, answer.content[:1024]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.forward is not None:
            self.forward.close()


@webhooks_app.command()
def listen(
    secret: SecretOpt,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Loopback port to listen on.")] = 8787,
    forward_to: Annotated[
        str | None, typer.Option("--forward-to", help="Pass each verified delivery on to this URL, unchanged.")
    ] = None,
    show_pii: Annotated[bool, typer.Option("--show-pii", help="Print revealed emails and phones too.")] = False,
) -> None:
    """Receive deliveries on 127.0.0.1 for local development: verify, print one line each, optionally forward."""
    if forward_to is not None and not forward_to.startswith(("http://", "https://")):
        fail("--forward-to must be an http:// or https:// URL", EXIT_USAGE)
    try:
        listener = Listener(
            port,
            secret,
            forward_to=forward_to,
            show_pii=show_pii,
            echo=lambda s: out().print(s, highlight=False, markup=False, soft_wrap=True),
        )
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", EXIT_FAILED)
    out().print(f"listening on http://127.0.0.1:{listener.port}/ (Ctrl-C to stop)", highlight=False)
    try:
        listener.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        listener.server.server_close()
        if listener.forward is not None:
            listener.forward.close()
