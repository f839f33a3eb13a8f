"""POST /external/contacts/unlock(-phone) and GET /external/contacts/unlock(-phone)-tasks/{taskId}."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from contactvault.server.db import tables
from contactvault.server.db.queue import claim
from contactvault.server.runtime import Runtime
from tests.engine import count, drain
from tests.factories import BIG_EVENT, Account, email_of, make_account

UNLOCK = "/external/contacts/unlock"


def unlock(client: TestClient, account: Account, ids: list[str], **extra: object) -> dict[str, object]:
    response = client.post(
        UNLOCK, json={"event_id": str(BIG_EVENT), "personnel_ids": ids, **extra}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_submission_is_201_snake_case_with_string_ids(client: TestClient, account: Account) -> None:
    body = unlock(client, account, ["1", "2", "nope", "99999"])
    assert set(body) == {"status", "task_id", "job_id", "skipped_personnel_ids", "skipped_detail"}
    assert body["status"] == "accepted"
    assert isinstance(body["task_id"], str)
    assert body["task_id"].isdigit()
    assert body["job_id"] == body["task_id"]
    assert body["skipped_personnel_ids"] == ["99999"]  # "nope" is listed once, in skipped_detail


def test_task_ids_are_not_sequential(client: TestClient, account: Account) -> None:
    a = int(str(unlock(client, account, ["1"])["task_id"]))
    b = int(str(unlock(client, account, ["2"])["task_id"]))
    assert abs(a - b) > 1_000_000
    assert max(a, b) < 2**63


def test_poll_shows_items_in_submission_order_with_results(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    body = unlock(client, account, ["3", "10", "1"])
    pending = client.get(f"/external/contacts/unlock-tasks/{body['task_id']}", headers=account.headers).json()
    assert pending["taskStatus"] == "pending"
    assert [i["status"] for i in pending["items"]] == ["pending"] * 3
    assert all("email" not in i and "errorCode" not in i for i in pending["items"])
    drain(directory)
    done = client.get(f"/external/contacts/unlock-tasks/{body['task_id']}", headers=account.headers).json()
    assert done["taskId"] == body["task_id"]
    assert done["taskStatus"] == "completed"
    assert [i["personnelId"] for i in done["items"]] == ["3", "10", "1"]
    first = done["items"][0]
    assert first["email"] == email_of(3)
    assert first["creditsCharged"] == 15
    assert first["verification"]["status"] == "valid"
    assert 0 <= first["verification"]["score"] <= 100
    assert "errorCode" not in first
    assert done["items"][1] == {
        "personnelId": "10",
        "status": "failed",
        "errorCode": "UNRESOLVED",
        "creditsCharged": 0,
        "completedAt": done["items"][1]["completedAt"],
    }
    assert done["counts"] == {"pending": 0, "processing": 0, "unlocked": 2, "failed": 1}
    assert (done["creditsHeld"], done["creditsCharged"], done["creditsReleased"]) == (45, 30, 15)
    assert done["createdAt"].endswith("Z")
    assert done["completedAt"].endswith("Z")


def test_phone_routes_charge_150_and_items_carry_phone(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    response = client.post(
        "/external/contacts/unlock-phone",
        json={"event_id": str(BIG_EVENT), "personnel_ids": ["3"]},
        headers=account.headers,
    )
    assert response.status_code == 201
    task_id = response.json()["task_id"]
    drain(directory)
    done = client.get(f"/external/contacts/unlock-phone-tasks/{task_id}", headers=account.headers).json()
    assert "phone" in done["items"][0]
    assert "email" not in done["items"][0]
    assert client.get("/external/credits/balance", headers=account.headers).json()["totalBalance"] == 10_000 - 150
    # An email task id is not a phone task.
    assert client.get(f"/external/contacts/unlock-tasks/{task_id}", headers=account.headers).status_code == 404


def test_402_carries_required_and_available_and_creates_nothing(client: TestClient, directory: Runtime) -> None:
    poor = make_account(directory, credit=20)
    response = client.post(UNLOCK, json={"event_id": str(BIG_EVENT), "personnel_ids": ["1", "2"]}, headers=poor.headers)
    assert response.status_code == 402
    body = response.json()
    assert body["errorKey"] == "INSUFFICIENT_CREDITS"
    assert body["details"] == {"required": 30, "available": 20}
    assert body["traceId"] == response.headers["X-Request-ID"]
    assert count(directory, tables.tasks) == 0


def test_nothing_chargeable_is_201_success_without_task(client: TestClient, account: Account) -> None:
    response = client.post(
        UNLOCK, json={"event_id": str(BIG_EVENT), "personnel_ids": ["0", "abc"]}, headers=account.headers
    )
    assert response.status_code == 201
    assert response.json()["status"] == "success"
    assert "task_id" not in response.json()


def test_unknown_event_is_404(client: TestClient, account: Account) -> None:
    for event in ("987654", "not-an-id"):
        response = client.post(UNLOCK, json={"event_id": event, "personnel_ids": ["1"]}, headers=account.headers)
        assert response.status_code == 404
        assert response.json()["errorKey"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"personnel_ids": ["1"]}, "event_id"),
        ({"event_id": "100"}, "personnel_ids"),
        ({"event_id": 100, "personnel_ids": ["1"]}, "event_id"),
        ({"event_id": "100", "personnel_ids": [1]}, "personnel_ids.0"),
        ({"event_id": "100", "personnel_ids": []}, "personnel_ids"),
        ({"event_id": "100", "personnel_ids": [str(i) for i in range(1, 102)]}, "personnel_ids"),
        ({"event_id": "100", "personnel_ids": ["1"], "surprise": True}, "surprise"),
        ({"event_id": "", "personnel_ids": ["1"]}, "event_id"),
        ({"event_id": "x" * 101, "personnel_ids": ["1"]}, "event_id"),
        ({"event_id": "100", "personnel_ids": ["1"], "max_credits": -1}, "max_credits"),
        ({"event_id": "100", "personnel_ids": "1,2"}, "personnel_ids"),
        ({"event_id": "100", "personnel_ids": ["1"], "verification_min": "unknown"}, "verification_min"),
        ({"event_id": "100", "personnel_ids": ["1"], "verification_min": "VALID"}, "verification_min"),
        ({"event_id": "100", "personnel_ids": ["1"], "verification_min": 1}, "verification_min"),
    ],
)
def test_bad_bodies_are_400_naming_the_field_and_create_nothing(
    client: TestClient, directory: Runtime, account: Account, body: dict[str, object], field: str
) -> None:
    response = client.post(UNLOCK, json=body, headers=account.headers)
    assert response.status_code == 400
    assert response.json()["errorKey"] == "INVALID_REQUEST"
    assert response.json()["details"]["field"] == field
    assert count(directory, tables.tasks) == 0
    balance = client.get("/external/credits/balance", headers=account.headers).json()
    assert balance["reservedBalance"] == 0


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\x00", b"[]", b"null"])
def test_malformed_json_is_400(client: TestClient, account: Account, raw: bytes) -> None:
    response = client.post(UNLOCK, content=raw, headers={**account.headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errorKey"] == "INVALID_REQUEST"


def test_a_10_mb_body_is_refused(client: TestClient, directory: Runtime, account: Account) -> None:
    big = b'{"event_id": "100", "personnel_ids": ["' + b"1" * 10_000_000 + b'"]}'
    response = client.post(UNLOCK, content=big, headers={**account.headers, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["details"] == {"field": "body"}
    assert count(directory, tables.tasks) == 0


def test_another_accounts_task_answers_exactly_like_a_missing_one(
    client: TestClient, account: Account, other_account: Account
) -> None:
    task_id = unlock(client, account, ["1"])["task_id"]
    theirs = client.get(f"/external/contacts/unlock-tasks/{task_id}", headers=other_account.headers)
    missing = client.get("/external/contacts/unlock-tasks/12345", headers=other_account.headers)
    assert theirs.status_code == missing.status_code == 404
    assert {**theirs.json(), "traceId": ""} == {**missing.json(), "traceId": ""}


def test_x_call_source_is_recorded(client: TestClient, directory: Runtime, account: Account) -> None:
    client.post(
        UNLOCK,
        json={"event_id": "100", "personnel_ids": ["1"]},
        headers={**account.headers, "x-call-source": "agent"},
    )
    client.post(
        UNLOCK,
        json={"event_id": "100", "personnel_ids": ["2"]},
        headers={**account.headers, "x-call-source": "robot"},
    )
    with directory.db.read() as conn:
        sources = sorted(conn.execute(tables.tasks.select().with_only_columns(tables.tasks.c.call_source)).scalars())
    assert sources == ["agent", "api"]


def test_etag_and_if_none_match_answer_304(client: TestClient, directory: Runtime, account: Account) -> None:
    url = f"/external/contacts/unlock-tasks/{unlock(client, account, ['1'])['task_id']}"
    first = client.get(url, headers=account.headers)
    etag = first.headers["ETag"]
    again = client.get(url, headers={**account.headers, "If-None-Match": etag})
    assert again.status_code == 304
    drain(directory)
    changed = client.get(url, headers={**account.headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_long_poll_on_a_finished_task_answers_at_once(client: TestClient, directory: Runtime, account: Account) -> None:
    url = f"/external/contacts/unlock-tasks/{unlock(client, account, ['1'])['task_id']}"
    drain(directory)
    response = client.get(url, params={"wait": 60}, headers=account.headers)
    assert response.json()["taskStatus"] == "completed"


@pytest.mark.parametrize("wait", ["-1", "61", "soon"])
def test_wait_outside_0_to_60_is_400(client: TestClient, account: Account, wait: str) -> None:
    response = client.get("/external/contacts/unlock-tasks/1", params={"wait": wait}, headers=account.headers)
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "wait"


@pytest.mark.parametrize("floor", ["valid", "accept_all", None])
def test_verification_min_is_stored_with_the_task_and_reaches_the_worker(
    client: TestClient, directory: Runtime, account: Account, floor: str | None
) -> None:
    extra = {} if floor is None else {"verification_min": floor}
    body = unlock(client, account, ["1", "2"], **extra)
    with directory.db.read() as conn:
        stored = conn.execute(select(tables.tasks.c.verification_min)).scalar_one()
    assert stored == floor
    with directory.db.write() as conn:
        claimed = claim(conn, "w#1", directory.clock.now(), timedelta(seconds=30), 10)
    assert [(i.task_id, i.verification_min) for i in claimed] == [(int(str(body["task_id"])), floor)] * 2


def test_verification_min_is_accepted_on_a_phone_unlock(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    body = {"event_id": str(BIG_EVENT), "personnel_ids": ["3"], "verification_min": "valid"}
    response = client.post("/external/contacts/unlock-phone", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    drain(directory)
    with directory.db.read() as conn:
        assert conn.execute(select(tables.tasks.c.verification_min)).scalar_one() == "valid"
        assert conn.execute(select(tables.unlocks.c.channel)).scalar_one() == "phone"  # vault values: as before
