"""The delivery engine against a scripted receiver on loopback, with the FakeClock driving the retry schedule."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from contactvault.server.clock import FakeClock
from contactvault.server.db import webhooks as stored
from contactvault.server.db.tables import audit_log
from contactvault.server.runtime import Runtime
from contactvault.server.services import webhook_delivery, webhooks
from contactvault.server.worker.webhook_sender import WebhookSender, send
from contactvault.webhooks import verify_webhook
from tests.factories import make_account


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    stall: threading.Event | None = None  # hold the answer until this is set (a receiver that hangs)


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A loopback HTTP server answering from a script (200 once the script runs out) and recording requests."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                reply = receiver.script.pop(0) if receiver.script else Reply()
                if reply.stall is not None:
                    reply.stall.wait(10)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def wrt(rt: Runtime) -> Runtime:
    """The runtime with private targets allowed (the receiver is on loopback)."""
    rt.settings = rt.settings.model_copy(update={"webhooks_allow_private": True})
    return rt


@pytest.fixture
def sender(wrt: Runtime) -> Iterator[WebhookSender]:
    s = WebhookSender(wrt, sender_id="t", rng=random.Random(1), timeout=2.0)
    yield s
    s.close()


def _endpoint(rt: Runtime, url: str) -> tuple[int, int, str]:
    account = make_account(rt, credit=0)
    created = webhooks.create_endpoint(rt, account.id, url)
    return account.id, created.endpoint.id, created.secret


def _status(rt: Runtime, message_id: str) -> tuple[str, int] | None:
    with rt.db.read() as conn:
        return stored.message_status(conn, message_id)


def _attempts(rt: Runtime, account_id: int, endpoint_id: int) -> list[stored.AttemptRow]:
    return webhooks.list_attempts(rt, account_id, endpoint_id, 100)


def test_a_delivery_is_signed_and_sends_the_stored_bytes(
    wrt: Runtime, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    account_id, endpoint_id, secret = _endpoint(wrt, receiver.url)
    message_id = webhooks.send_test(wrt, account_id, endpoint_id)
    assert sender.run_once() == 1
    (got,) = receiver.received
    assert verify_webhook(got.body, got.headers, secret, now=clock.now().timestamp()) == message_id
    assert json.loads(got.body)["type"] == "webhook.test"
    with wrt.db.read() as conn:
        assert stored.messages_of(conn, endpoint_id) == [(message_id, "webhook.test", "delivered")]
    (attempt,) = _attempts(wrt, account_id, endpoint_id)
    assert (attempt.outcome, attempt.status_code, attempt.response_head) == ("success", 200, "ok")
    assert sender.run_once() == 0


def test_failures_are_retried_on_the_schedule_with_the_same_id(
    wrt: Runtime, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    account_id, endpoint_id, secret = _endpoint(wrt, receiver.url)
    receiver.script = [Reply(500), Reply(502)]
    message_id = webhooks.send_test(wrt, account_id, endpoint_id)
    assert sender.run_once() == 1
    clock.advance(3.9)  # the first retry is due 5 s +/- 20 % later
    assert sender.run_once() == 0
    clock.advance(2.2)
    assert sender.run_once() == 1
    clock.advance(5 * 60 * 0.79)
    assert sender.run_once() == 0
    clock.advance(5 * 60 * 0.42)
    assert sender.run_once() == 1
    assert _status(wrt, message_id) == ("delivered", 3)
    ids = {r.headers["webhook-id"] for r in receiver.received}
    stamps = [int(r.headers["webhook-timestamp"]) for r in receiver.received]
    assert ids == {message_id}
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 3  # a fresh timestamp and signature per attempt
    assert len({r.headers["webhook-signature"] for r in receiver.received}) == 3
    assert len({r.body for r in receiver.received}) == 1
    last = receiver.received[-1]
    assert verify_webhook(last.body, last.headers, secret, now=stamps[-1]) == message_id
    assert [a.status_code for a in _attempts(wrt, account_id, endpoint_id)] == [200, 502, 500]


def test_retry_after_is_honoured(wrt: Runtime, receiver: Receiver, sender: WebhookSender, clock: FakeClock) -> None:
    account_id, endpoint_id, _ = _endpoint(wrt, receiver.url)
    receiver.script = [Reply(503, {"Retry-After": "3600"})]
    message_id = webhooks.send_test(wrt, account_id, endpoint_id)
    sender.run_once()
    clock.advance(3599)
    assert sender.run_once() == 0
    clock.advance(2)
    assert sender.run_once() == 1
    assert _status(wrt, message_id) == ("delivered", 2)


def test_an_abort_answer_fails_the_message_without_retries(
    wrt: Runtime, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    account_id, endpoint_id, _ = _endpoint(wrt, receiver.url)
    receiver.script = [Reply(422, {"Webhook-Delivery": "Abort"})]
    message_id = webhooks.send_test(wrt, account_id, endpoint_id)
    assert sender.run_once() == 1
    assert _status(wrt, message_id) == ("failed", 1)
    clock.advance(30 * 3600)
    assert sender.run_once() == 0  # never retried
    assert len(receiver.received) == 1
    (attempt,) = _attempts(wrt, account_id, endpoint_id)
    assert (attempt.outcome, attempt.status_code, attempt.error) == ("failed", 422, "aborted by the receiver")
    with wrt.db.read() as conn:
        endpoint = stored.endpoint(conn, account_id, endpoint_id)
    assert endpoint is not None
    assert endpoint.disabled_at is None
    assert endpoint.failing_since is None


def test_an_abort_header_on_a_success_or_with_another_value_changes_nothing(
    wrt: Runtime, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    account_id, endpoint_id, _ = _endpoint(wrt, receiver.url)
    receiver.script = [Reply(500, {"webhook-delivery": "later"}), Reply(200, {"webhook-delivery": "abort"})]
    message_id = webhooks.send_test(wrt, account_id, endpoint_id)
    sender.run_once()
    assert _status(wrt, message_id) == ("pending", 1)
    clock.advance(7)
    assert sender.run_once() == 1
    assert _status(wrt, message_id) == ("delivered", 2)


def test_410_disables_the_endpoint_with_an_audit_event(
    wrt: Runtime, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    account_id, endpoint_id, _ = _endpoint(wrt, receiver.url)
    receiver.script = [Reply(410)]
    first = webhooks.send_test(wrt, account_id, endpoint_id)
    sender.run_once()
    view = webhooks.get_endpoint(wrt, account_id, endpoint_id)
    assert (view.enabled, view.disabled_reason) == (False, "gone")
    assert _status(wrt, first) == ("failed", 1)
    webhooks.send_test(wrt, account_id, endpoint_id)
    clock.advance(60)
    assert sender.run_once() == 0  # a disabled endpoint's messages wait
    with wrt.db.read() as conn:
        actions = conn.execute(select(audit_log.c.action).where(audit_log.c.subject_type == "webhook")).scalars()
        assert "webhook.disable" in list(actions)
    webhooks.update_endpoint(wrt, account_id, endpoint_id, enabled=True)
    assert sender.run_once() == 1


def test_an_endpoint_failing_for_days_is_disabled(
    wrt: Runtime, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    account_id, endpoint_id, _ = _endpoint(wrt, receiver.url)
    receiver.script = [Reply(500), Reply(500), Reply(500)]  # the first attempt, then both messages fail
    webhooks.send_test(wrt, account_id, endpoint_id)
    sender.run_once()
    assert webhooks.get_endpoint(wrt, account_id, endpoint_id).enabled
    clock.advance(timedelta(days=5).total_seconds())
    webhooks.send_test(wrt, account_id, endpoint_id)
    assert sender.run_once() == 2
    view = webhooks.get_endpoint(wrt, account_id, endpoint_id)
    assert (view.enabled, view.disabled_reason) == (False, "failing")


def test_a_timeout_is_a_failed_attempt(wrt: Runtime, receiver: Receiver, clock: FakeClock) -> None:
    account_id, endpoint_id, _ = _endpoint(wrt, receiver.url)
    release = threading.Event()
    receiver.script = [Reply(200, stall=release)]
    message_id = webhooks.send_test(wrt, account_id, endpoint_id)
    quick = WebhookSender(wrt, sender_id="q", rng=random.Random(1), timeout=0.3)
    try:
        assert quick.run_once() == 1
    finally:
        release.set()
        quick.close()
    (attempt,) = _attempts(wrt, account_id, endpoint_id)
    assert (attempt.outcome, attempt.status_code, attempt.error) == ("failed", None, "timeout")
    assert _status(wrt, message_id) == ("pending", 1)


def test_a_redirect_is_not_followed(wrt: Runtime, receiver: Receiver, sender: WebhookSender) -> None:
    account_id, endpoint_id, _ = _endpoint(wrt, receiver.url)
    receiver.script = [Reply(307, {"Location": receiver.url + "/elsewhere"})]
    webhooks.send_test(wrt, account_id, endpoint_id)
    sender.run_once()
    assert [r.path for r in receiver.received] == ["/hook"]
    (attempt,) = _attempts(wrt, account_id, endpoint_id)
    assert (attempt.outcome, attempt.status_code) == ("failed", 307)


def test_a_crash_mid_attempt_is_delivered_again_with_the_same_id(
    wrt: Runtime, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    account_id, endpoint_id, _ = _endpoint(wrt, receiver.url)
    message_id = webhooks.send_test(wrt, account_id, endpoint_id)
    (out,) = webhook_delivery.claim_due(wrt, "crashing#1", 10)
    send(sender.client, out, int(clock.now().timestamp()))  # the receiver got it; the sender dies before recording
    assert sender.run_once() == 0  # still leased
    clock.advance(webhook_delivery.DEFAULT_LEASE.total_seconds() + 1)
    assert sender.run_once() == 1
    assert [r.headers["webhook-id"] for r in receiver.received] == [message_id, message_id]
    assert _status(wrt, message_id) == ("delivered", 2)
    # The crashed sender's late record finds its lease gone and changes nothing.
    late = webhook_delivery.AttemptResult(500, 1)
    assert not webhook_delivery.record_attempt(wrt, out.message, late, random.Random(1))
    assert _status(wrt, message_id) == ("delivered", 2)


def test_exhausted_messages_fail_and_recover_sends_them_again(
    wrt: Runtime, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    account_id, endpoint_id, _ = _endpoint(wrt, receiver.url)
    start = clock.now()
    receiver.script = [Reply(500) for _ in range(8)]
    message_id = webhooks.send_test(wrt, account_id, endpoint_id)
    for _ in range(8):
        assert sender.run_once() == 1
        clock.advance(13 * 3600)
    assert _status(wrt, message_id) == ("failed", 8)
    webhooks.update_endpoint(wrt, account_id, endpoint_id, enabled=True)  # failing for > 5 days disabled it
    assert webhooks.recover(wrt, account_id, endpoint_id, start) == 1
    assert sender.run_once() == 1
    assert _status(wrt, message_id) == ("delivered", 1)
    assert {r.headers["webhook-id"] for r in receiver.received} == {message_id}
    triggers = [a.trigger for a in _attempts(wrt, account_id, endpoint_id)]
    assert triggers == ["manual"] + ["scheduled"] * 8


def test_an_idle_sender_takes_no_write_lock(
    wrt: Runtime, receiver: Receiver, sender: WebhookSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id, endpoint_id, _ = _endpoint(wrt, receiver.url)
    writes: list[int] = []
    original = wrt.db.write

    def counted():
        writes.append(1)
        return original()

    monkeypatch.setattr(wrt.db, "write", counted)
    assert sender.run_once() == 0
    assert writes == []  # SQLite has one writer: polling every second must not queue behind the worker
    webhooks.send_test(wrt, account_id, endpoint_id)
    assert sender.run_once() == 1
    assert writes
