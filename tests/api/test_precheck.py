"""POST /external/actions/precheck."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from tests.engine import count, drain
from tests.factories import Account, make_account

URL = "/external/actions/precheck"


def precheck(
    client: TestClient,
    account: Account,
    ids: list[str],
    action: str = "unlock_contact_emails",
    event: str = "100",
) -> dict[str, object]:
    response = client.post(
        URL,
        json={"action_type": action, "params": {"event_id": event, "personnel_ids": ids}},
        headers=account.headers,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_precheck_is_200_snake_case_and_reserves_nothing(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    body = precheck(client, account, ["1", "2", "x", "99999", "2"])
    assert set(body) == {
        "ok",
        "action_type",
        "allowed",
        "should_charge",
        "credits",
        "reason_code",
        "biz_code",
        "detail",
    }
    assert (body["ok"], body["allowed"], body["should_charge"], body["credits"], body["reason_code"]) == (
        True,
        True,
        True,
        30,
        "ok",
    )
    detail = body["detail"]
    assert isinstance(detail, dict)
    assert detail["requested_count"] == 4
    assert detail["chargeable_count"] == 2
    assert detail["personnel_ids"] == ["1", "2"]
    assert detail["invalid_personnel_ids"] == ["x"]
    assert detail["missing_personnel_ids"] == ["99999"]
    assert detail["available_balance"] == 10_000
    assert count(directory, tables.tasks) == 0
    assert client.get("/external/credits/balance", headers=account.headers).json()["reservedBalance"] == 0


def test_phone_precheck_prices_150(client: TestClient, account: Account) -> None:
    assert precheck(client, account, ["3"], action="unlock_contact_phones")["credits"] == 150


def test_reason_codes(client: TestClient, directory: Runtime, account: Account) -> None:
    client.post("/external/contacts/unlock", json={"event_id": "100", "personnel_ids": ["1"]}, headers=account.headers)
    assert precheck(client, account, ["1"])["reason_code"] == "unlock_in_progress"
    drain(directory)
    unlocked = precheck(client, account, ["1"])
    assert (unlocked["reason_code"], unlocked["allowed"]) == ("already_unlocked", False)
    assert precheck(client, account, ["abc"])["reason_code"] == "invalid_subject"
    assert precheck(client, account, ["99999"])["reason_code"] == "no_contacts_available"
    assert precheck(client, account, ["1"], event="424242")["reason_code"] == "not_found"
    over = precheck(client, account, [str(i) for i in range(1, 102)])
    assert (over["reason_code"], over["allowed"]) == ("exceed_max_unlock_limit", False)
    poor = make_account(directory, credit=10)
    assert precheck(client, poor, ["2"])["reason_code"] == "insufficient_balance"


def test_unknown_action_is_200_unsupported(client: TestClient, account: Account) -> None:
    response = client.post(URL, json={"action_type": "launch_rocket", "params": {}}, headers=account.headers)
    assert response.status_code == 200
    assert (response.json()["allowed"], response.json()["reason_code"]) == (False, "unsupported_action")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"params": {}}, "action_type"),
        ({"action_type": "unlock_contact_emails", "params": {"personnel_ids": ["1"]}}, "params.event_id"),
        (
            {"action_type": "unlock_contact_emails", "params": {"event_id": "1", "personnel_ids": [1]}},
            "params.personnel_ids.0",
        ),
        ({"action_type": "unlock_contact_emails", "params": [], "x": 1}, "params"),
    ],
)
def test_bad_precheck_bodies_are_400(client: TestClient, account: Account, body: dict[str, object], field: str) -> None:
    response = client.post(URL, json=body, headers=account.headers)
    assert response.status_code == 400
    assert response.json()["details"]["field"] == field


@pytest.mark.parametrize(
    ("action", "ids", "biz_code"),
    [
        ("unlock_contact_emails", ["1"], "unlock_contact_emails"),
        ("unlock_contact_phones", ["3"], "unlock_contact_phones"),
        ("unlock_contact_emails", ["abc"], ""),  # nothing chargeable
        ("unlock_contact_emails", [str(i) for i in range(1, 102)], ""),  # over the limit
        ("launch_rocket", ["1"], ""),  # unsupported
    ],
)
def test_biz_code_is_the_billing_code_as_a_string(
    client: TestClient, account: Account, action: str, ids: list[str], biz_code: str
) -> None:
    # Lensmor's biz_code is a string: "" when nothing is charged, else the action's billing code.
    body = precheck(client, account, ids, action=action)
    assert body["biz_code"] == biz_code
    assert body["should_charge"] is (biz_code != "")
