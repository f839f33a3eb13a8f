"""The checks every API answer goes through (tests/api/wire.py) catch what they are there to catch."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.wire import PublishedContract, lensmor_type_problems
from tests.factories import Account

BALANCE = {
    "totalAmount": 30,
    "totalBalance": 30,
    "subscriptionAmount": 30,
    "subscriptionBalance": 30,
    "addonAmount": 0,
    "addonBalance": 0,
    "addonExpireAt": None,
    "giftAmount": 0,
    "giftBalance": 0,
    "resetAt": 1_780_000_000_000,
    "reservedBalance": 0,
}
PRECHECK = {
    "ok": True,
    "action_type": "launch_rocket",
    "allowed": False,
    "should_charge": False,
    "credits": 0,
    "reason_code": "unsupported_action",
    "biz_code": "",
    "detail": {},
}


@pytest.mark.parametrize(
    ("template", "body", "problem"),
    [
        ("/external/actions/precheck", {**PRECHECK, "biz_code": 0}, "precheck.biz_code = 0"),
        ("/external/credits/balance", {**BALANCE, "resetAt": 1_780_000_000}, "balance.resetAt = 1780000000"),
        ("/external/credits/balance", {**BALANCE, "totalBalance": True}, "balance.totalBalance = True"),
        ("/external/personnel/profile", {"id": 7}, "profile[0].id = 7"),
        ("/external/contacts/unlock", {"status": "accepted", "task_id": 5}, "submission.task_id = 5"),
    ],
)
def test_a_wrong_lensmor_type_is_reported(template: str, body: dict[str, Any], problem: str) -> None:
    assert problem in lensmor_type_problems(template, 200, body)


def test_the_right_types_pass() -> None:
    assert lensmor_type_problems("/external/credits/balance", 200, BALANCE) == []
    assert lensmor_type_problems("/external/actions/precheck", 200, PRECHECK) == []


def test_an_answer_the_document_does_not_describe_is_reported(client: TestClient, account: Account) -> None:
    contract = PublishedContract(client.get("/openapi.json").json())
    request = httpx.Request("GET", "http://testserver/external/credits/balance")
    assert contract.problems(client.get("/external/credits/balance", headers=account.headers)) == []
    undeclared = httpx.Response(418, json={"code": 418}, request=request, headers={"X-Request-ID": "t"})
    assert contract.problems(undeclared)
    headless = httpx.Response(200, json=BALANCE, request=request)
    assert any("X-Request-ID" in p for p in contract.problems(headless))


def test_the_recorder_sees_every_answer_of_the_test(
    client: TestClient, account: Account, answers_match_the_published_contract: list[httpx.Response]
) -> None:
    client.get("/external/credits/balance", headers=account.headers)
    client.get("/external/events/list", headers=account.headers)
    assert [r.request.url.path for r in answers_match_the_published_contract] == [
        "/external/credits/balance",
        "/external/events/list",
    ]
