"""The wire shape of a credit balance, from a plain typed value (no database); the admin CLI prints the same."""

from __future__ import annotations

from datetime import UTC, datetime

from contactvault.cli.admin.commands import balance_json
from contactvault.server.api import mappers
from contactvault.server.services.credits import Balance

RESET = datetime(2026, 12, 1, tzinfo=UTC)
ADDON_EXPIRY = datetime(2099, 1, 1, tzinfo=UTC)


def test_a_balance_sums_its_buckets_and_writes_expiries_in_epoch_milliseconds() -> None:
    body = mappers.credit_balance(Balance(100, 80, 50, 40, ADDON_EXPIRY, 10, 5, RESET, 15))
    assert body == {
        "totalAmount": 160,
        "totalBalance": 125,
        "subscriptionAmount": 100,
        "subscriptionBalance": 80,
        "addonAmount": 50,
        "addonBalance": 40,
        "addonExpireAt": 4070908800000,
        "giftAmount": 10,
        "giftBalance": 5,
        "resetAt": 1796083200000,
        "reservedBalance": 15,
    }
    assert list(body) == list(mappers.credit_balance(Balance(0, 0, 0, 0, None, 0, 0, None, 0)))


def test_a_balance_without_expiring_buckets_has_null_dates() -> None:
    body = mappers.credit_balance(Balance(0, 0, 0, 0, None, 0, 0, None, 0))
    assert (body["addonExpireAt"], body["resetAt"], body["totalBalance"]) == (None, None, 0)


def test_the_admin_cli_prints_the_wire_keys_in_the_wire_order() -> None:
    for value in (Balance(100, 80, 50, 40, ADDON_EXPIRY, 10, 5, RESET, 15), Balance(0, 0, 0, 0, None, 0, 0, None, 0)):
        assert list(balance_json(value).items()) == list(mappers.credit_balance(value).items())
