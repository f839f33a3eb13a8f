"""``contactvault sync --to webhook``: signed batches (Standard Webhooks) to a scripted receiver on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.webhooks import generate_secret, verify_webhook

from .conftest import CLI
from .sync_helpers import EPOCH, plan_of, retry_waits, sync

SECRET = generate_secret()


class Receiver:
    """Verifies every delivery; keeps (webhook-id, body) of the verified ones; can answer 429 first."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, dict[str, Any]]] = []
        self.refused = 0
        self.rate_limit_next = 0
        self.url = ""


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """The receiver on a free loopback port, and the secret in the environment."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            if state.rate_limit_next:
                state.rate_limit_next -= 1
                self.send_response(429)
                self.send_header("retry-after", "1")
                self.send_header("content-length", "0")
                self.end_headers()
                return
            try:
                verify_webhook(body, dict(self.headers.items()), [SECRET])
            except Exception:
                state.refused += 1
                self.send_response(400)
            else:
                state.deliveries.append((self.headers["webhook-id"], json.loads(body)))
                self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CONTACTVAULT_SYNC_WEBHOOK_SECRET", SECRET)
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def unlocked(connected: CLI) -> CLI:
    """The CLI with 244 and 245's emails delivered to its account."""
    connected.json("unlock", "--event", "100", "--ids", "244,245", "--yes")
    return connected


def records(receiver: Receiver) -> list[tuple[str, str]]:
    """(action, contactvault id) of every record delivered."""
    return [(r["action"], r["contactvaultId"]) for _, body in receiver.deliveries for r in body["data"]["records"]]


def test_create_then_skip_unchanged_then_update(unlocked: CLI, receiver: Receiver, tmp_path: Path) -> None:
    point = tmp_path / "cp.json"
    planned = sync(unlocked, point, "--to", "webhook", "--url", receiver.url, "--dry-run")
    assert receiver.deliveries == []
    done = sync(unlocked, point, "--to", "webhook", "--url", receiver.url)
    assert plan_of(planned) == plan_of(done)
    assert records(receiver) == [("create", "244"), ("create", "245")]
    assert receiver.deliveries[0][1]["type"] == "contacts.synced"
    assert receiver.refused == 0

    again = sync(unlocked, point, "--to", "webhook", "--url", receiver.url, "--since", EPOCH)
    assert again["counts"]["skip"] == 2
    assert len(receiver.deliveries) == 1

    saved = Checkpoint.load(point)
    saved.sent["245"]["contactvault_verification_status"] = "old"
    saved.save()
    sync(unlocked, point, "--to", "webhook", "--url", receiver.url, "--since", EPOCH)
    assert records(receiver)[2:] == [("update", "245")]
    assert list(receiver.deliveries[1][1]["data"]["records"][0]["fields"]) == ["contactvault_verification_status"]


def test_429_is_retried_after_retry_after(unlocked: CLI, receiver: Receiver, tmp_path: Path) -> None:
    receiver.rate_limit_next = 1
    with retry_waits() as waits:
        sync(unlocked, tmp_path / "cp.json", "--to", "webhook", "--url", receiver.url)
    assert waits == [1.0]
    assert records(receiver) == [("create", "244"), ("create", "245")]


def test_a_crash_before_the_checkpoint_resends_the_same_message_id(
    unlocked: CLI, receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point = tmp_path / "cp.json"

    def crash(self: Checkpoint) -> None:
        raise RuntimeError("killed after sending, before the checkpoint")

    with monkeypatch.context() as patch:
        patch.setattr(Checkpoint, "commit", crash)
        assert unlocked("sync", "--to", "webhook", "--url", receiver.url, "--checkpoint", str(point)).exit_code == 1
    sync(unlocked, point, "--to", "webhook", "--url", receiver.url)
    ids = [msg_id for msg_id, _ in receiver.deliveries]
    assert len(ids) == 2
    assert len(set(ids)) == 1  # the receiver drops the repeat by its webhook-id
    sync(unlocked, point, "--to", "webhook", "--url", receiver.url, "--since", EPOCH)
    assert len(receiver.deliveries) == 2


def test_without_a_secret_it_is_a_usage_error(unlocked: CLI, tmp_path: Path) -> None:
    result = unlocked("sync", "--to", "webhook", "--url", "http://127.0.0.1:9/x", "--checkpoint", str(tmp_path / "c"))
    assert result.exit_code == 2
    assert "CONTACTVAULT_SYNC_WEBHOOK_SECRET" in result.stderr
