"""``contactvault webhooks verify|test|listen`` (the client side of docs/webhooks.md)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from contactvault.cli.client.webhooks import Listener
from contactvault.server.db import webhooks as stored
from contactvault.server.services import webhooks as webhook_service
from contactvault.webhooks import generate_secret, webhook_headers
from tests.e2e import processes
from tests.factories import Account

from .conftest import CLI, LiveServer

SECRET = generate_secret()
BODY = (
    b'{"type":"unlock_task.completed","timestamp":"2026-11-30T09:00:05Z","data":{"taskId":"7","status":"completed",'
    b'"sequence":3,"results":[{"personnelId":"1","outcome":"unlocked","value":"ada@example.com"}]}}'
)


def _signed(body: bytes = BODY, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    return webhook_headers("msg_00000000000000aa", int(time.time()) if at is None else at, body, [secret])


def _header_args(headers: dict[str, str]) -> list[str]:
    return [arg for name, value in headers.items() for arg in ("--header", f"{name}:{value}")]


def test_verify_accepts_a_genuine_delivery(cli: CLI) -> None:
    result = cli("webhooks", "verify", "--secret", SECRET, *_header_args(_signed()), input=BODY.decode())
    assert result.exit_code == 0, result.output
    assert "verified: msg_00000000000000aa" in result.stdout


@pytest.mark.parametrize(
    ("body", "secret", "at", "reason"),
    [
        (BODY + b" ", SECRET, None, "no webhook-signature matches"),
        (BODY, generate_secret(), None, "no webhook-signature matches"),
        (BODY, SECRET, 1_000_000_000, "timestamp"),
    ],
    ids=["tampered-body", "wrong-secret", "stale"],
)
def test_verify_rejects_with_the_reason_and_exit_1(
    cli: CLI, body: bytes, secret: str, at: int | None, reason: str
) -> None:
    headers = _signed(BODY, secret, at)
    result = cli("webhooks", "verify", "--secret", SECRET, *_header_args(headers), input=body.decode())
    assert result.exit_code == 1
    assert reason in result.stderr
    assert SECRET not in result.output


def test_verify_refuses_a_malformed_header_option(cli: CLI) -> None:
    result = cli("webhooks", "verify", "--secret", SECRET, "--header", "no-colon-here", input="{}")
    assert result.exit_code == 2
    assert "--header must be 'name:value'" in result.stderr


def test_test_queues_a_test_message_through_the_api(connected: CLI, live: LiveServer, user: Account) -> None:
    endpoint = webhook_service.create_endpoint(live.rt, user.id, "https://hooks.example.com/cv").endpoint
    answer = connected.json("webhooks", "test", str(endpoint.id))
    with live.rt.db.read() as conn:
        messages = stored.messages_of(conn, endpoint.id)
    assert [(m[0], m[1]) for m in messages] == [(answer["messageId"], "webhook.test")]


def test_test_of_an_unknown_endpoint_says_not_found(connected: CLI) -> None:
    result = connected("webhooks", "test", "999999")
    assert result.exit_code != 0
    assert "not found" in result.stderr.lower()


class Target:
    """Where the listener forwards to: records each request, answers 202 with a body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                target.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(202)
                self.send_header("content-length", "4")
                self.end_headers()
                self.wfile.write(b"seen")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/app/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.server.shutdown()
    t.server.server_close()


def _listener(lines: list[str], **kwargs: object) -> Listener:
    return Listener(0, [SECRET], echo=lines.append, **kwargs).start()  # type: ignore[arg-type]


def test_listen_verifies_prints_a_line_without_pii_and_forwards_the_exact_bytes(target: Target) -> None:
    lines: list[str] = []
    listener = _listener(lines, forward_to=target.url)
    try:
        headers = {**_signed(), "content-type": "application/json", "x-extra": "kept"}
        answer = httpx.post(f"http://127.0.0.1:{listener.port}/", content=BODY, headers=headers)
    finally:
        listener.close()
    assert (answer.status_code, answer.content) == (202, b"seen")
    ((got_headers, got_body),) = target.received
    assert got_body == BODY
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "x-extra", "content-type"):
        assert got_headers[name] == headers[name]
    (line,) = lines
    assert "msg_00000000000000aa unlock_task.completed" in line
    assert 'taskId="7"' in line
    assert "-> 202" in line
    assert "ada@example.com" not in line


def test_listen_shows_revealed_values_only_with_show_pii() -> None:
    lines: list[str] = []
    listener = _listener(lines, show_pii=True)
    try:
        answer = httpx.post(f"http://127.0.0.1:{listener.port}/", content=BODY, headers=_signed())
    finally:
        listener.close()
    assert answer.status_code == 200
    assert "ada@example.com" in lines[0]


def test_listen_rejects_a_bad_signature_and_forwards_nothing(target: Target) -> None:
    lines: list[str] = []
    listener = _listener(lines, forward_to=target.url)
    try:
        answer = httpx.post(f"http://127.0.0.1:{listener.port}/", content=BODY + b" ", headers=_signed())
    finally:
        listener.close()
    assert answer.status_code == 401
    assert target.received == []
    assert lines == ["rejected: no webhook-signature matches the secrets"]


def test_listen_refuses_a_forward_url_that_is_not_http(cli: CLI) -> None:
    result = cli("webhooks", "listen", "--secret", SECRET, "--forward-to", "ftp://x")
    assert result.exit_code == 2
    assert "--forward-to" in result.stderr


def test_the_listen_command_prints_one_line_per_verified_delivery(target: Target) -> None:
    port = processes.free_port()
    args = [*processes.CLI, "webhooks", "listen", "--port", str(port), "--secret", SECRET, "--forward-to", target.url]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=os.environ.copy()) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().decode().startswith(f"listening on http://127.0.0.1:{port}/")
            answer = httpx.post(f"http://127.0.0.1:{port}/", content=BODY, headers=_signed())
            line = proc.stdout.readline().decode()
        finally:
            proc.terminate()
    assert answer.status_code == 202
    assert line.startswith("msg_00000000000000aa unlock_task.completed")
    assert line.rstrip("\n").endswith("-> 202")  # one line, however long
    assert "ada@example.com" not in line
    assert target.received[0][1] == BODY
