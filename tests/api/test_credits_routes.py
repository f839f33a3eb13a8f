"""GET /external/credits/balance."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import Account

FIELDS = {
    "totalAmount": int, "totalBalance": int, "subscriptionAmount": int, "subscriptionBalance": int,
    "addonAmount": int, "addonBalance": int, "giftAmount": int, "giftBalance": int, "reservedBalance": int,
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
