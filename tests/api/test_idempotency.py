"""The Idempotency-Key extension: replay, 422 on reuse, 409 while in flight, per-account scope, 24 h expiry."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from contactvault.server.clock import FakeClock
from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from contactvault.server.services import idempotency
from tests.engine import count
from tests.factories import Account, make_account

UNLOCK = "/external/contacts/unlock"
BODY = {"event_id": "100", "personnel_ids": ["1", "2"]}


def post(client: TestClient, account: Account, key: str, body: Mapping[str, object] = BODY):
    return client.post(UNLOCK, json=body, headers={**account.headers, "Idempotency-Key": key})


def test_same_key_same_body_replays_the_first_response_byte_for_byte(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    first = post(client, account, "k-1")
    second = post(client, account, "k-1")
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(directory, tables.tasks) == 1
    assert client.get("/external/credits/balance", headers=account.headers).json()["totalBalance"] == 10_000 - 30


def test_same_key_different_body_is_422(client: TestClient, account: Account) -> None:
    post(client, account, "k-2")
    response = post(client, account, "k-2", {"event_id": "100", "personnel_ids": ["3"]})
    assert response.status_code == 422
    assert response.json()["errorKey"] == "IDEMPOTENCY_KEY_REUSED"


def test_same_key_while_the_first_is_executing_is_409(directory: Runtime, client: TestClient, account: Account) -> None:
    digest = idempotency.fingerprint("email", '{"event_id": "100", "max_credits": null, "personnel_ids": ["1", "2"]}')
    claim = idempotency.begin(directory, account.id, "k-3", digest)
    assert isinstance(claim, idempotency.Claim)
    response = post(client, account, "k-3")
    assert response.status_code == 409
    assert response.json()["errorKey"] == "IDEMPOTENCY_KEY_IN_USE"


def test_keys_are_scoped_per_account(
    client: TestClient, directory: Runtime, account: Account, other_account: Account
) -> None:
    mine = post(client, account, "shared")
    theirs = post(client, other_account, "shared")
    assert mine.json()["task_id"] != theirs.json()["task_id"]
    assert count(directory, tables.tasks) == 2


def test_keys_expire_after_24_hours(client: TestClient, directory: Runtime, account: Account, clock: FakeClock) -> None:
    first = post(client, account, "k-4", {"event_id": "100", "personnel_ids": ["5"]})
    clock.advance(24 * 3600 + 1)
    second = post(client, account, "k-4", {"event_id": "100", "personnel_ids": ["6"]})
    assert second.status_code == 201
    assert second.json()["task_id"] != first.json()["task_id"]


def test_a_402_stores_nothing_so_the_key_can_be_used_again(client: TestClient, directory: Runtime) -> None:
    poor = make_account(directory, credit=15)
    assert post(client, poor, "k-5").status_code == 402
    assert count(directory, tables.idempotency_keys) == 0
    from contactvault.server.services import credits

    credits.grant(directory, poor.id, 100)
    assert post(client, poor, "k-5").status_code == 201


def test_an_invalid_body_stores_nothing(client: TestClient, directory: Runtime, account: Account) -> None:
    assert post(client, account, "k-6", {"event_id": "100"}).status_code == 400
    assert count(directory, tables.idempotency_keys) == 0


def test_an_abandoned_claim_is_taken_over_after_it_goes_stale(
    client: TestClient, directory: Runtime, account: Account, clock: FakeClock
) -> None:
    digest = idempotency.fingerprint("email", '{"event_id": "100", "max_credits": null, "personnel_ids": ["1", "2"]}')
    idempotency.begin(directory, account.id, "k-7", digest)  # its request "crashed" before storing a response
    clock.advance(directory.settings.idempotency_stale_seconds + 1)
    assert post(client, account, "k-7").status_code == 201


def test_concurrent_duplicates_create_one_task(client: TestClient, directory: Runtime, account: Account) -> None:
    statuses: list[int] = []
    lock = threading.Lock()

    def go() -> None:
        response = post(client, account, "k-8")
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(directory, tables.tasks) == 1
    assert set(statuses) <= {201, 409}
    assert 201 in statuses


def test_bad_idempotency_keys_are_400(client: TestClient, account: Account) -> None:
    for key in ("x" * 256, "tab\there"):
        response = post(client, account, key)
        assert response.status_code == 400
        assert response.json()["details"]["field"] == "Idempotency-Key"


def test_purge_removes_expired_records(
    directory: Runtime, client: TestClient, account: Account, clock: FakeClock
) -> None:
    post(client, account, "k-9")
    with directory.db.write() as conn:
        conn.execute(update(tables.idempotency_keys).values(expires_at=clock.now()))
    assert idempotency.purge_expired(directory) == 1


def test_a_crash_inside_the_submission_gives_the_key_back(
    client: TestClient, directory: Runtime, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTACTVAULT_FAULT", "before_submit_commit")
    assert post(client, account, "k-10").status_code == 500
    monkeypatch.delenv("CONTACTVAULT_FAULT")
    assert count(directory, tables.tasks) == 0
    retry = post(client, account, "k-10")
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry.headers
    assert count(directory, tables.tasks) == 1
