"""Personnel ids as they arrive in submissions and prechecks: de-duplicated by the person they name (``"7"`` and
``"07"`` are one person), answered in canonical form, and malformed ones echoed once, cut to 32 characters."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from tests.engine import count, drain
from tests.factories import BIG_EVENT, Account

UNLOCK = "/external/contacts/unlock"
PRECHECK = "/external/actions/precheck"
CUT = "…"


def post_unlock(client: TestClient, account: Account, ids: list[str], **headers: str) -> dict[str, object]:
    response = client.post(
        UNLOCK, json={"event_id": str(BIG_EVENT), "personnel_ids": ids}, headers={**account.headers, **headers}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def post_precheck(client: TestClient, account: Account, ids: list[str]) -> dict[str, object]:
    body = {"action_type": "unlock_contact_emails", "params": {"event_id": str(BIG_EVENT), "personnel_ids": ids}}
    response = client.post(PRECHECK, json=body, headers=account.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_leading_zeros_name_one_person_in_a_submission(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    body = post_unlock(client, account, ["7", "07", "007", "0009"])
    assert body["status"] == "accepted"
    assert body["skipped_personnel_ids"] == []
    task = client.get(f"/external/contacts/unlock-tasks/{body['task_id']}", headers=account.headers).json()
    assert [i["personnelId"] for i in task["items"]] == ["7", "9"]
    assert task["creditsHeld"] == 30
    drain(directory)
    assert count(directory, tables.unlocks) == 2
    again = post_unlock(client, account, ["07", "9"])
    assert again["status"] == "success"
    assert again["skipped_detail"]["already_unlocked_personnel_ids"] == ["7", "9"]  # type: ignore[index]


def test_a_person_in_flight_under_another_spelling_is_unlocking(client: TestClient, account: Account) -> None:
    post_unlock(client, account, ["8"])
    body = post_unlock(client, account, ["008"])
    assert body == {
        "status": "success",
        "skipped_personnel_ids": ["8"],
        "skipped_detail": {
            "invalid_personnel_ids": [],
            "missing_personnel_ids": [],
            "unlinked_personnel_ids": [],
            "already_unlocked_personnel_ids": [],
            "unlocking_personnel_ids": ["8"],
        },
    }


def test_precheck_counts_one_person_for_all_spellings(client: TestClient, account: Account) -> None:
    body = post_precheck(client, account, ["8", "08", "008", "99999", "099999"])
    assert body["credits"] == 15
    detail = body["detail"]
    assert detail["requested_count"] == 2  # type: ignore[index]
    assert detail["personnel_ids"] == ["8"]  # type: ignore[index]
    assert detail["missing_personnel_ids"] == ["99999"]  # type: ignore[index]


def test_malformed_ids_are_echoed_once_and_cut_to_32_characters(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    long_id = "x" * 500_000
    body = post_unlock(client, account, [long_id, "y" * 32, "z" * 33, "1"], **{"Idempotency-Key": "k1"})
    invalid = body["skipped_detail"]["invalid_personnel_ids"]  # type: ignore[index]
    assert invalid == ["x" * 31 + CUT, "y" * 32, "z" * 31 + CUT]
    assert body["skipped_personnel_ids"] == []
    with directory.db.read() as conn:
        stored = conn.execute(select(func.max(func.length(tables.idempotency_keys.c.response_body)))).scalar_one()
    assert stored < 1_000


def test_a_full_submission_of_huge_ids_answers_and_stores_a_few_kilobytes(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    ids = [f"{i:03d}" + "x" * 9_000 for i in range(100)]
    response = client.post(
        UNLOCK,
        json={"event_id": str(BIG_EVENT), "personnel_ids": ids},
        headers={**account.headers, "Idempotency-Key": "big"},
    )
    assert response.status_code == 201, response.text
    assert len(response.content) < 100 * 40 + 500
    with directory.db.read() as conn:
        stored = conn.execute(select(func.max(func.length(tables.idempotency_keys.c.response_body)))).scalar_one()
    assert stored < 100 * 40 + 500


def test_precheck_cuts_malformed_ids_too(client: TestClient, account: Account) -> None:
    body = post_precheck(client, account, ["x" * 10_000, "x" * 10_000, "1"])
    detail = body["detail"]
    assert detail["invalid_personnel_ids"] == ["x" * 31 + CUT]  # type: ignore[index]
    assert detail["requested_count"] == 2  # type: ignore[index]


def test_an_unknown_event_is_not_echoed(client: TestClient, account: Account) -> None:
    event = "9" * 100
    response = client.post(UNLOCK, json={"event_id": event, "personnel_ids": ["1"]}, headers=account.headers)
    assert response.status_code == 404
    assert event[:20] not in response.text


def test_an_unknown_body_field_is_named_but_cut(client: TestClient, account: Account) -> None:
    name = "surprise" * 10_000
    response = client.post(UNLOCK, json={"event_id": "100", "personnel_ids": ["1"], name: 1}, headers=account.headers)
    assert response.status_code == 400
    assert response.json()["details"]["field"] == name[:31] + CUT
    assert len(response.content) < 1_000
