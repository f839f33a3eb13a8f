"""Events into the outbox: unlock_task.completed with the settlement that finishes the task, contact.erased."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from contactvault.server.clock import FakeClock
from contactvault.server.db.tables import webhook_messages
from contactvault.server.runtime import Runtime
from contactvault.server.services import erasure, webhooks
from tests.engine import count, drain, submit
from tests.factories import Account

URL = "https://hooks.example.com/contactvault"


def _bodies(rt: Runtime) -> list[dict]:
    with rt.db.read() as conn:
        rows = conn.execute(select(webhook_messages.c.body).order_by(webhook_messages.c.created_at)).scalars()
        return [json.loads(b) for b in rows]


def test_a_finished_task_queues_one_completed_event_per_endpoint(directory: Runtime, account: Account) -> None:
    webhooks.create_endpoint(directory, account.id, URL)
    webhooks.create_endpoint(directory, account.id, URL + "/2", None, ["unlock_task.completed"])
    webhooks.create_endpoint(directory, account.id, URL + "/3", None, ["contact.erased"])
    submitted = submit(directory, account, [1, 2, 3])
    drain(directory)
    bodies = _bodies(directory)
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    data = bodies[0]["data"]
    assert bodies[0]["type"] == "unlock_task.completed"
    assert data["taskId"] == str(submitted["task_id"])
    assert data["status"] == "completed"
    assert data["itemCount"] == 3
    assert sum(data["counts"].values()) == 3
    assert data["credits"]["charged"] + data["credits"]["released"] >= 0
    assert isinstance(data["sequence"], int)
    assert "@" not in json.dumps(bodies[0])  # thin: never a contact value


def test_no_event_when_the_finishing_transaction_rolls_back(
    directory: Runtime, account: Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    webhooks.create_endpoint(directory, account.id, URL)
    submit(directory, account, [1, 2])
    monkeypatch.setenv("CONTACTVAULT_FAULT", "before_record_commit:raise")
    drain(directory)  # every record step fails at its last moment and rolls back
    assert count(directory, webhook_messages) == 0
    monkeypatch.delenv("CONTACTVAULT_FAULT")
    clock.advance(3600)  # the leases run out
    drain(directory)
    assert [b["type"] for b in _bodies(directory)] == ["unlock_task.completed"]


def test_an_erasure_tells_the_accounts_that_held_the_value_once(directory: Runtime, account: Account) -> None:
    webhooks.create_endpoint(directory, account.id, URL)
    submit(directory, account, [1])
    drain(directory)
    erasure.erase_person(directory, 1)
    erasure.erase_person(directory, 1)  # again: nothing left to erase, nobody told twice
    erased = [b for b in _bodies(directory) if b["type"] == "contact.erased"]
    assert [b["data"] for b in erased] == [{"personnelId": "1", "reason": "erased", "channel": None}]
