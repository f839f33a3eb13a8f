"""GET /external/credits/balance."""

from __future__ import annotations

from fastapi.testclient import TestClient

from contactvault.server.runtime import Runtime
from tests.factories import BIG_EVENT, Account, make_account

FIELDS = {
    "totalAmount": int,
    "totalBalance": int,
    "subscriptionAmount": int,
    "subscriptionBalance": int,
    "addonAmount": int,
    "addonBalance": int,
    "giftAmount": int,
    "giftBalance": int,
    "reservedBalance": int,
}


def test_balance_has_every_field_with_its_type(client: TestClient, account: Account) -> None:
    response = client.get("/external/credits/balance", headers=account.headers)
    assert response.status_code == 200
    body = response.json()
    for name, kind in FIELDS.items():
        assert type(body[name]) is kind, name
    assert body["addonExpireAt"] is None
    assert body["resetAt"] is None
    assert body["totalBalance"] == 10_000
    assert body["reservedBalance"] == 0


def test_balance_has_exactly_the_contract_fields(client: TestClient, account: Account) -> None:
    body = client.get("/external/credits/balance", headers=account.headers).json()
    assert set(body) == set(FIELDS) | {"addonExpireAt", "resetAt"}


def test_balance_needs_a_key(client: TestClient) -> None:
    response = client.get("/external/credits/balance")
    assert response.status_code == 401
    assert response.json()["errorKey"] == "INVALID_API_KEY"


def test_each_key_sees_its_own_accounts_balance(client: TestClient, directory: Runtime, account: Account) -> None:
    small = make_account(directory, credit=777, name="small")
    assert client.get("/external/credits/balance", headers=small.headers).json()["totalBalance"] == 777
    assert client.get("/external/credits/balance", headers=account.headers).json()["totalBalance"] == 10_000


def test_credits_held_by_an_unfinished_task_are_reserved_not_spendable(client: TestClient, account: Account) -> None:
    body = {"event_id": str(BIG_EVENT), "personnel_ids": ["1", "2"]}
    assert client.post("/external/contacts/unlock", json=body, headers=account.headers).status_code == 201
    balance = client.get("/external/credits/balance", headers=account.headers).json()
    assert (balance["totalBalance"], balance["reservedBalance"]) == (10_000 - 30, 30)
    assert balance["totalAmount"] == 10_000


def test_directory_reads_cost_nothing(client: TestClient, account: Account) -> None:
    for _ in range(3):
        client.get("/external/events/list", headers=account.headers)
        client.get("/external/contacts/search", params={"company_name": "acme"}, headers=account.headers)
    balance = client.get("/external/credits/balance", headers=account.headers).json()
    assert (balance["totalBalance"], balance["reservedBalance"]) == (10_000, 0)
