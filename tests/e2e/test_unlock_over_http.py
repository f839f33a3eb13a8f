"""A real server on loopback: submit 250 people in 3 tasks, long-poll to the end, reconcile to the credit."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from contactvault.server.config import Settings
from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from tests.e2e import processes
from tests.engine import assert_reconciles, count
from tests.factories import Account

pytestmark = pytest.mark.slow


def _env(settings: Settings) -> dict[str, str]:
    assert settings.encryption_key_file is not None
    return processes.env_for(settings.database_url, settings.encryption_key_file)


def test_250_people_in_3_tasks_cost_exactly_15_per_delivered_contact(
    directory: Runtime, account: Account, settings: Settings
) -> None:
    ids = [str(i) for i in range(1, 251)]
    with (
        processes.server(_env(settings)) as base,
        httpx.Client(base_url=base, headers=account.headers, timeout=90) as http,
    ):
        before = http.get("/external/credits/balance").json()["totalBalance"]
        task_ids = []
        for batch in (ids[:100], ids[100:200], ids[200:]):
            response = http.post("/external/contacts/unlock", json={"event_id": "100", "personnel_ids": batch})
            assert response.status_code == 201
            task_ids.append(response.json()["task_id"])
        delivered = 0
        for task_id in task_ids:
            body = http.get(f"/external/contacts/unlock-tasks/{task_id}", params={"wait": 60}).json()
            while body["taskStatus"] not in ("completed", "failed"):
                body = http.get(f"/external/contacts/unlock-tasks/{task_id}", params={"wait": 60}).json()
            delivered += sum(1 for i in body["items"] if i["status"] == "unlocked" and i.get("email"))
        after = http.get("/external/credits/balance").json()
        assert delivered == 225
        assert before - after["totalBalance"] == 15 * delivered
        assert after["reservedBalance"] == 0

        # Again for the delivered people: no task, no cost.
        tasks_before = count(directory, tables.tasks)
        delivered_ids = [i for i in ids if int(i) % 10]
        for batch in (delivered_ids[:100], delivered_ids[100:200], delivered_ids[200:]):
            again = http.post("/external/contacts/unlock", json={"event_id": "100", "personnel_ids": batch})
            assert again.status_code == 201
            assert again.json()["status"] == "success"
            assert set(again.json()["skipped_detail"]["already_unlocked_personnel_ids"]) == set(batch)
        assert count(directory, tables.tasks) == tasks_before
        assert http.get("/external/credits/balance").json()["totalBalance"] == after["totalBalance"]
        # Again for everyone: only the 25 who failed are tried again, and failing again costs nothing.
        retry = http.post("/external/contacts/unlock", json={"event_id": "100", "personnel_ids": ids[:100]}).json()
        assert len(retry["skipped_personnel_ids"]) == 90
        body = http.get(f"/external/contacts/unlock-tasks/{retry['task_id']}", params={"wait": 60}).json()
        while body["taskStatus"] != "completed":
            body = http.get(f"/external/contacts/unlock-tasks/{retry['task_id']}", params={"wait": 60}).json()
        assert body["creditsCharged"] == 0
        assert http.get("/external/credits/balance").json()["totalBalance"] == after["totalBalance"]
        person = http.get("/external/personnel/profile", params={"personnel_id": "1"}).json()
        assert person["contactUnlockStatus"] == "unlocked"
        assert person["email"]
    assert_reconciles(directory)


def test_long_poll_answers_as_soon_as_the_task_changes(
    directory: Runtime, account: Account, settings: Settings
) -> None:
    with (
        processes.server(_env(settings), "--no-worker") as base,
        httpx.Client(base_url=base, headers=account.headers, timeout=90) as http,
    ):
        task_id = http.post("/external/contacts/unlock", json={"event_id": "100", "personnel_ids": ["1"]}).json()[
            "task_id"
        ]
        started = time.monotonic()
        answer: dict[str, object] = {}

        def poll() -> None:
            answer.update(http.get(f"/external/contacts/unlock-tasks/{task_id}", params={"wait": 50}).json())

        poller = threading.Thread(target=poll)
        poller.start()
        worker = processes.worker(_env(settings))
        try:
            poller.join(timeout=60)
        finally:
            processes.stop(worker)
        assert answer["taskStatus"] in ("processing", "completed")
        # Woken by the change (seen by the server's fallback check, since the worker is another process),
        # long before the 50 s wait ran out.
        assert time.monotonic() - started < 30
