"""Webhook endpoints: secrets shown once and stored sealed, checked input, rotation overlap, the outbox fan-out."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from contactvault.server.clock import FakeClock
from contactvault.server.db import webhooks as stored
from contactvault.server.db.tables import audit_log, webhook_endpoints, webhook_messages, webhook_secrets
from contactvault.server.domain.errors import InvalidRequest, NotFound
from contactvault.server.domain.webhooks import EventType
from contactvault.server.runtime import Runtime
from contactvault.server.services import webhooks
from contactvault.webhooks import decode_secret, verify_webhook, webhook_headers
from tests.factories import make_account

URL = "https://hooks.example.com/contactvault"


def _count(rt: Runtime, table) -> int:
    with rt.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_create_returns_the_secret_once_and_stores_it_sealed(rt: Runtime) -> None:
    account = make_account(rt, credit=0)
    created = webhooks.create_endpoint(rt, account.id, URL, "CRM bridge", ["unlock_task.completed"])
    assert len(decode_secret(created.secret)) == 32
    assert created.endpoint.enabled
    assert created.endpoint.event_types == ["unlock_task.completed"]
    with rt.db.read() as conn:
        (token,) = conn.execute(select(webhook_secrets.c.value_encrypted)).scalars().all()
        details = " ".join(d or "" for d in conn.execute(select(audit_log.c.detail)).scalars())
    assert created.secret.encode() not in bytes(token)
    assert rt.cipher.open(bytes(token)) == created.secret
    assert created.secret not in details
    assert URL not in details
    assert webhooks.get_endpoint(rt, account.id, created.endpoint.id) == created.endpoint


@pytest.mark.parametrize(
    ("url", "types", "field"),
    [
        ("http://hooks.example.com/x", [], "url"),
        ("https://user:pw@hooks.example.com/x", [], "url"),
        ("https://127.0.0.1/x", [], "url"),
        ("https://[::ffff:10.0.0.1]/x", [], "url"),
        ("ftp://hooks.example.com/x", [], "url"),
        (URL, ["unlock_task.exploded"], "eventTypes"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(rt: Runtime, url: str, types: list[str], field: str) -> None:
    account = make_account(rt, credit=0)
    with pytest.raises(InvalidRequest) as caught:
        webhooks.create_endpoint(rt, account.id, url, None, types)
    assert caught.value.details == {"field": field}
    assert _count(rt, webhook_endpoints) == 0
    assert _count(rt, webhook_secrets) == 0


def test_another_account_cannot_see_or_change_an_endpoint(rt: Runtime) -> None:
    mine, theirs = make_account(rt, credit=0), make_account(rt, credit=0, name="other")
    created = webhooks.create_endpoint(rt, mine.id, URL)
    with pytest.raises(NotFound):
        webhooks.get_endpoint(rt, theirs.id, created.endpoint.id)
    with pytest.raises(NotFound):
        webhooks.delete_endpoint(rt, theirs.id, created.endpoint.id)
    assert webhooks.list_endpoints(rt, theirs.id) == []


def test_rotation_signs_with_both_secrets_until_the_overlap_ends(rt: Runtime, clock: FakeClock) -> None:
    account = make_account(rt, credit=0)
    created = webhooks.create_endpoint(rt, account.id, URL)
    new_secret, until = webhooks.rotate_secret(rt, account.id, created.endpoint.id, timedelta(hours=1))
    assert until == clock.now() + timedelta(hours=1)
    with rt.db.read() as conn:
        assert webhooks.signing_secrets(rt, conn, [created.endpoint.id]) == {
            created.endpoint.id: [new_secret, created.secret]
        }
    now = int(clock.now().timestamp())
    with rt.db.read() as conn:
        secrets = webhooks.signing_secrets(rt, conn, [created.endpoint.id])[created.endpoint.id]
    headers = webhook_headers("msg_1", now, b"{}", secrets)
    assert verify_webhook(b"{}", headers, created.secret, now=now) == "msg_1"  # receivers not yet updated
    assert verify_webhook(b"{}", headers, new_secret, now=now) == "msg_1"
    clock.advance(3601)
    with rt.db.read() as conn:
        assert webhooks.signing_secrets(rt, conn, [created.endpoint.id]) == {created.endpoint.id: [new_secret]}


def test_enqueue_writes_one_message_per_enabled_interested_endpoint(rt: Runtime, clock: FakeClock) -> None:
    account = make_account(rt, credit=0)
    every = webhooks.create_endpoint(rt, account.id, URL).endpoint
    completed = webhooks.create_endpoint(rt, account.id, URL + "/c", None, ["unlock_task.completed"]).endpoint
    erased = webhooks.create_endpoint(rt, account.id, URL + "/e", None, ["contact.erased"]).endpoint
    off = webhooks.create_endpoint(rt, account.id, URL + "/off").endpoint
    webhooks.update_endpoint(rt, account.id, off.id, enabled=False)
    with rt.db.write() as conn:
        ids = webhooks.enqueue(rt, conn, account.id, EventType.UNLOCK_TASK_COMPLETED, {"taskId": "1"}, clock.now())
    assert len(ids) == len(set(ids)) == 2
    with rt.db.read() as conn:
        rows = conn.execute(select(webhook_messages.c.endpoint_id, webhook_messages.c.body)).all()
        assert {r.endpoint_id for r in rows} == {every.id, completed.id}
        assert stored.messages_of(conn, erased.id) == []
    body = json.loads(rows[0].body)
    assert body == {"type": "unlock_task.completed", "timestamp": body["timestamp"], "data": {"taskId": "1"}}


def test_a_failed_enqueue_leaves_no_message(rt: Runtime, clock: FakeClock) -> None:
    account = make_account(rt, credit=0)
    webhooks.create_endpoint(rt, account.id, URL)

    class Boom(Exception):
        pass

    def enqueue_then_fail() -> None:
        with rt.db.write() as conn:
            webhooks.enqueue(rt, conn, account.id, EventType.CONTACT_ERASED, {}, clock.now())
            raise Boom

    with pytest.raises(Boom):
        enqueue_then_fail()
    assert _count(rt, webhook_messages) == 0


def test_update_and_delete(rt: Runtime) -> None:
    account = make_account(rt, credit=0)
    created = webhooks.create_endpoint(rt, account.id, URL)
    webhooks.send_test(rt, account.id, created.endpoint.id)
    view = webhooks.update_endpoint(rt, account.id, created.endpoint.id, description="new", event_types=[])
    assert view.description == "new"
    with pytest.raises(InvalidRequest) as caught:
        webhooks.update_endpoint(rt, account.id, created.endpoint.id, url="http://plain.example.com/")
    assert caught.value.details == {"field": "url"}
    webhooks.delete_endpoint(rt, account.id, created.endpoint.id)
    assert webhooks.list_endpoints(rt, account.id) == []
    assert _count(rt, webhook_messages) == 0
    assert _count(rt, webhook_secrets) == 0
