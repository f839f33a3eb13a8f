"""The opt-in full payload of ``unlock_task.completed``: rendered at each attempt from the current database.

The outbox keeps the thin body only; a full endpoint gets the delivered items as the task's poll shows them at that
attempt (an erased or suppressed person is never sent), over the cap a thin body with ``truncated``; the bytes
signed are the bytes sent.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from contactvault.server.clock import FakeClock
from contactvault.server.db.tables import webhook_messages
from contactvault.server.domain import webhooks as rules
from contactvault.server.runtime import Runtime
from contactvault.server.services import erasure, suppressions, webhooks
from contactvault.server.worker.webhook_sender import WebhookSender
from contactvault.webhooks import verify_webhook
from tests.engine import drain, submit, task
from tests.factories import Account
from tests.integration.test_webhook_delivery import Receiver, Reply


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def wrt(directory: Runtime) -> Runtime:
    """The runtime with private targets allowed (the receiver is on loopback)."""
    directory.settings = directory.settings.model_copy(update={"webhooks_allow_private": True})
    return directory


@pytest.fixture
def sender(wrt: Runtime) -> Iterator[WebhookSender]:
    s = WebhookSender(wrt, sender_id="t", rng=random.Random(1), timeout=5.0)
    yield s
    s.close()


def _finished_task(rt: Runtime, account: Account, url: str, payload: str) -> tuple[str, str]:
    """An endpoint with this payload mode and a finished 3-person task; (task id, secret)."""
    secret = webhooks.create_endpoint(rt, account.id, url, None, ["unlock_task.completed"], payload).secret
    task_id = str(submit(rt, account, [1, 2, 3])["task_id"])
    drain(rt)
    return task_id, secret


def _delivered(receiver: Receiver, secret: str, clock: FakeClock) -> list[dict[str, Any]]:
    """Every body received, each verified against the bytes received (bytes signed = bytes sent)."""
    for got in receiver.received:
        verify_webhook(got.body, got.headers, secret, now=clock.now().timestamp())
    return [json.loads(got.body) for got in receiver.received]


def _stored_bodies(rt: Runtime) -> list[bytes]:
    with rt.db.read() as conn:
        return [bytes(b) for b in conn.execute(select(webhook_messages.c.body)).scalars()]


def test_a_full_body_carries_the_delivered_items_as_the_poll_shows_them(
    wrt: Runtime, account: Account, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    task_id, secret = _finished_task(wrt, account, receiver.url, "full")
    assert sender.run_once() == 1
    (body,) = _delivered(receiver, secret, clock)
    poll = task(wrt, account, task_id)
    delivered = [item for item in poll["items"] if "email" in item]
    assert delivered  # the directory's people 1-3 have emails: the test would prove nothing without them
    assert body["data"]["items"] == delivered
    assert {"personnelId", "email", "verification", "status"} <= set(body["data"]["items"][0])
    assert body["data"]["taskId"] == task_id
    assert "truncated" not in body["data"]
    # The outbox never held a revealed value: only the attempt's body did.
    (stored,) = _stored_bodies(wrt)
    assert b"@" not in stored
    assert "items" not in json.loads(stored)["data"]


def test_thin_stays_the_default(
    wrt: Runtime, account: Account, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    created = webhooks.create_endpoint(wrt, account.id, receiver.url)
    assert created.endpoint.payload == "thin"
    submit(wrt, account, [1, 2, 3])
    drain(wrt)
    assert sender.run_once() == 1
    (got,) = receiver.received
    verify_webhook(got.body, got.headers, created.secret, now=clock.now().timestamp())
    assert "items" not in json.loads(got.body)["data"]
    assert b"@" not in got.body
    assert got.body == _stored_bodies(wrt)[0]  # thin: the stored bytes, byte for byte


def test_a_person_erased_between_attempts_is_absent_from_the_retry(
    wrt: Runtime, account: Account, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    task_id, secret = _finished_task(wrt, account, receiver.url, "full")
    receiver.script = [Reply(status=500)]
    assert sender.run_once() == 1
    first = _delivered(receiver, secret, clock)[0]["data"]["items"]
    assert "1" in [i["personnelId"] for i in first]
    erasure.erase_person(wrt, 1)
    clock.advance(60)  # past the first retry delay (5 s ± 20 %)
    assert sender.run_once() == 1  # the retry: same message, rendered again
    retry = receiver.received[1]
    assert retry.headers["webhook-id"] == receiver.received[0].headers["webhook-id"]
    items = _delivered(receiver, secret, clock)[1]["data"]["items"]
    assert [i["personnelId"] for i in items] == [i["personnelId"] for i in first if i["personnelId"] != "1"]
    assert items == [i for i in task(wrt, account, task_id)["items"] if "email" in i]


def test_a_suppressed_person_is_never_sent(
    wrt: Runtime, account: Account, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    _, secret = _finished_task(wrt, account, receiver.url, "full")
    suppressions.suppress(wrt, "person", "2")
    assert sender.run_once() == 1
    (body,) = _delivered(receiver, secret, clock)
    sent = [i["personnelId"] for i in body["data"]["items"]]
    assert "2" not in sent
    assert sent  # the others still go


def test_over_the_cap_the_body_is_thin_and_says_where_the_items_are(
    wrt: Runtime,
    account: Account,
    receiver: Receiver,
    sender: WebhookSender,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    task_id, secret = _finished_task(wrt, account, receiver.url, "full")
    monkeypatch.setattr(rules, "MAX_FULL_PAYLOAD_BYTES", 400)  # three items are about 700 bytes
    assert sender.run_once() == 1
    (body,) = _delivered(receiver, secret, clock)
    data = body["data"]
    assert "items" not in data
    assert data["truncated"] is True
    assert data["itemsUrl"] == f"/external/contacts/unlock-tasks/{task_id}"
    assert data["taskId"] == task_id
    assert b"@" not in receiver.received[0].body


def test_switching_to_full_then_back_to_thin_applies_at_the_next_attempt(
    wrt: Runtime, account: Account, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    task_id, secret = _finished_task(wrt, account, receiver.url, "full")
    endpoint = webhooks.list_endpoints(wrt, account.id)[0]
    webhooks.update_endpoint(wrt, account.id, endpoint.id, payload="thin")
    assert sender.run_once() == 1
    (body,) = _delivered(receiver, secret, clock)
    assert "items" not in body["data"]
    assert body["data"]["taskId"] == task_id


def test_an_http_endpoint_gets_thin_bodies_once_private_targets_are_off(
    wrt: Runtime, account: Account, receiver: Receiver, sender: WebhookSender, clock: FakeClock
) -> None:
    assert receiver.url.startswith("http://")  # accepted while CONTACTVAULT_WEBHOOKS_ALLOW_PRIVATE=1
    _, secret = _finished_task(wrt, account, receiver.url, "full")
    wrt.settings = wrt.settings.model_copy(update={"webhooks_allow_private": False})
    assert sender.run_once() == 1  # (this sender's transport was built while loopback was allowed)
    (body,) = _delivered(receiver, secret, clock)
    assert "items" not in body["data"]
    assert b"@" not in receiver.received[0].body
