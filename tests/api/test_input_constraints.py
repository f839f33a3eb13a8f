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


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/external/contacts/search", "company_name=acme&role=&role=sales"),
        ("/external/events/list", "country=Germany&country=France"),
        ("/external/personnel/profile", "personnel_id=1&personnel_id=2"),
    ],
)
def test_a_query_parameter_given_twice_is_400(client: TestClient, account: Account, url: str, query: str) -> None:
    # Which copy counts is up to each parser (a proxy and we could read different requests): refuse, as for a
    # duplicate key in a JSON body.
    response = client.get(f"{url}?{query}", headers=account.headers)
    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == query.rsplit("&", 1)[1].split("=")[0]


@pytest.mark.parametrize(("cap", "status"), [(30.0, 201), (30.5, 400), ("30", 400), (True, 400)])
def test_max_credits_is_a_json_integer(client: TestClient, account: Account, cap: object, status: int) -> None:
    # 30.0 is the integer 30 in JSON (and in JSON Schema, which the document uses); 30.5, "30" and true are not.
    body = {"event_id": "100", "personnel_ids": ["1"], "max_credits": cap}
    response = client.post("/external/contacts/unlock", json=body, headers=account.headers)
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["details"]["field"] == "max_credits"
