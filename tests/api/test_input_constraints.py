"""Inputs are constrained exactly as the published document says: date filters, Idempotency-Key, precheck params."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import Account

EVENTS = "/external/events/list"
PRECHECK = "/external/actions/precheck"


@pytest.mark.parametrize("param", ["date_start_from", "date_start_to"])
@pytest.mark.parametrize("value", ["0", "1767225600", "20260504", "2026-05-04T00:00:00", "-1", "2026-02-30"])
def test_date_filters_take_only_calendar_days(client: TestClient, account: Account, param: str, value: str) -> None:
    # Unix seconds and 0 were read as dates before; only YYYY-MM-DD is a date here.
    response = client.get(EVENTS, params={param: value}, headers=account.headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["errorKey"], body["details"]["field"]) == ("INVALID_REQUEST", param)


def test_a_calendar_day_filters(client: TestClient, account: Account) -> None:
    response = client.get(EVENTS, params={"date_start_to": "2026-05-04"}, headers=account.headers)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()["items"]] == ["100"]


@pytest.mark.parametrize(
    ("action", "ids", "reason"),
    [
        ("launch_rocket", ["1"], "unsupported_action"),
        ("unlock_contact_emails", [str(i) for i in range(1, 102)], "exceed_max_unlock_limit"),
    ],
)
def test_valid_prechecks_the_action_refuses_are_answered_200(
    client: TestClient, account: Account, action: str, ids: list[str], reason: str
) -> None:
    body = {"action_type": action, "params": {"event_id": "100", "personnel_ids": ids}}
    response = client.post(PRECHECK, json=body, headers=account.headers)
    assert response.status_code == 200, response.text
    assert (response.json()["allowed"], response.json()["reason_code"]) == (False, reason)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"event_id": "100", "personnel_ids": []}, "params.personnel_ids"),
        ({"personnel_ids": ["1"]}, "params.event_id"),
        ({"event_id": "", "personnel_ids": ["1"]}, "params.event_id"),
    ],
)
def test_unlock_precheck_params_are_typed(
    client: TestClient, account: Account, params: dict[str, object], field: str
) -> None:
    body = {"action_type": "unlock_contact_phones", "params": params}
    response = client.post(PRECHECK, json=body, headers=account.headers)
    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == field
