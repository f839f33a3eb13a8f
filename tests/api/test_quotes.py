"""Extension: quotes. A precheck with ``create_quote`` stores its price; a submission with ``quote_id`` is charged
exactly that or refused (409 PRICE_CHANGED), and confirming one quote twice gives one task."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contactvault.server.clock import FakeClock
from contactvault.server.db import tables
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import quotes, unlocks
from contactvault.server.worker.housekeeping import Housekeeper
from tests.engine import assert_reconciles, balance, count
from tests.factories import Account

PRECHECK = "/external/actions/precheck"
UNLOCK = "/external/contacts/unlock"


def quote(client: TestClient, account: Account, ids: list[str], **extra: Any) -> dict[str, Any]:
    body = {"action_type": "unlock_contact_emails", "params": {"event_id": "100", "personnel_ids": ids}}
    response = client.post(PRECHECK, json={**body, "create_quote": True, **extra}, headers=account.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def confirm(client: TestClient, account: Account, ids: list[str], quote_id: str, url: str = UNLOCK) -> Any:
    return client.post(
        url, json={"event_id": "100", "personnel_ids": ids, "quote_id": quote_id}, headers=account.headers
    )


def test_quote_then_confirm_creates_one_task_at_the_quoted_price(
    client: TestClient, directory: Runtime, account: Account, clock: FakeClock
) -> None:
    answer = quote(client, account, ["1", "2", "3"])
    assert answer["allowed"] is True
    assert answer["credits"] == 45
    assert answer["quote_id"].isdigit()
    assert answer["expires_at"].endswith("Z")
    assert count(directory, tables.quotes) == 1
    assert count(directory, tables.tasks) == 0
    response = confirm(client, account, ["1", "2", "3"], answer["quote_id"])
    assert response.status_code == 201, response.text
    assert count(directory, tables.tasks) == 1
    assert balance(directory, account) == 10_000 - 45
    assert_reconciles(directory)


def test_the_quote_expires_after_the_configured_ttl(client: TestClient, account: Account, clock: FakeClock) -> None:
    answer = quote(client, account, ["1"])
    expires = datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00"))
    assert expires == clock.now() + timedelta(seconds=600)


def test_confirming_the_same_quote_twice_returns_the_same_task(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    answer = quote(client, account, ["1", "2"])
    first = confirm(client, account, ["1", "2"], answer["quote_id"])
    second = confirm(client, account, ["1", "2"], answer["quote_id"])
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count(directory, tables.tasks) == 1
    assert balance(directory, account) == 10_000 - 30
    assert_reconciles(directory)


def test_a_changed_price_is_409_and_holds_nothing(client: TestClient, directory: Runtime, account: Account) -> None:
    answer = quote(client, account, ["1", "2", "3"])
    # Meanwhile another submission (a second tab) takes person 2.
    assert client.post(UNLOCK, json={"event_id": "100", "personnel_ids": ["2"]}, headers=account.headers).is_success
    before = balance(directory, account)
    response = confirm(client, account, ["1", "2", "3"], answer["quote_id"])
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["errorKey"] == "PRICE_CHANGED"
    assert body["details"] == {"quoted": 45, "now": 30, "no_longer_chargeable": ["2"], "newly_chargeable": []}
    assert count(directory, tables.tasks) == 1
    assert balance(directory, account) == before
    assert_reconciles(directory)
    # The refusal stored nothing under the quote: a retry is checked again (and refused again).
    assert confirm(client, account, ["1", "2", "3"], answer["quote_id"]).status_code == 409


def test_other_ids_than_quoted_are_a_changed_price(client: TestClient, directory: Runtime, account: Account) -> None:
    answer = quote(client, account, ["1", "2"])
    response = confirm(client, account, ["1", "3"], answer["quote_id"])
    assert response.status_code == 409
    assert response.json()["details"] == {
        "quoted": 30,
        "now": 30,
        "no_longer_chargeable": ["2"],
        "newly_chargeable": ["3"],
    }
    assert count(directory, tables.tasks) == 0


def test_an_expired_quote_is_refused_and_holds_nothing(
    client: TestClient, directory: Runtime, account: Account, clock: FakeClock
) -> None:
    answer = quote(client, account, ["1"])
    clock.advance(600)
    response = confirm(client, account, ["1"], answer["quote_id"])
    assert response.status_code == 404
    assert response.json()["errorKey"] == "NOT_FOUND"
    assert count(directory, tables.tasks) == 0
    assert balance(directory, account) == 10_000
    assert_reconciles(directory)


def test_another_accounts_quote_is_refused_as_if_unknown(
    client: TestClient, directory: Runtime, account: Account, other_account: Account
) -> None:
    answer = quote(client, account, ["1"])
    theirs = confirm(client, other_account, ["1"], answer["quote_id"])
    unknown = confirm(client, other_account, ["1"], "12345")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["message"] == unknown.json()["message"]
    assert count(directory, tables.tasks) == 0
    assert balance(directory, other_account) == 10_000


def test_a_quote_is_for_its_channel_only(client: TestClient, directory: Runtime, account: Account) -> None:
    answer = quote(client, account, ["1"])
    response = confirm(client, account, ["1"], answer["quote_id"], url="/external/contacts/unlock-phone")
    assert response.status_code == 404
    assert count(directory, tables.tasks) == 0


def test_no_quote_unless_allowed(client: TestClient, directory: Runtime, account: Account) -> None:
    answer = quote(client, account, ["99999"])
    assert answer["allowed"] is False
    assert "quote_id" not in answer
    assert "expires_at" not in answer
    assert count(directory, tables.quotes) == 0


def test_precheck_without_create_quote_is_unchanged(client: TestClient, directory: Runtime, account: Account) -> None:
    body = {"action_type": "unlock_contact_emails", "params": {"event_id": "100", "personnel_ids": ["1"]}}
    plain = client.post(PRECHECK, json=body, headers=account.headers)
    explicit = client.post(PRECHECK, json={**body, "create_quote": False}, headers=account.headers)
    assert plain.content == explicit.content
    assert "quote_id" not in plain.json()
    assert count(directory, tables.quotes) == 0


def test_with_an_idempotency_key_that_key_replays_and_the_quote_still_guards(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    answer = quote(client, account, ["1"])
    body = {"event_id": "100", "personnel_ids": ["1"], "quote_id": answer["quote_id"]}
    first = client.post(UNLOCK, json=body, headers={**account.headers, "Idempotency-Key": "k-1"})
    again = client.post(UNLOCK, json=body, headers={**account.headers, "Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    # Under another key the quote is checked again: person 1 is now in progress, so nothing more is charged.
    other = client.post(UNLOCK, json=body, headers={**account.headers, "Idempotency-Key": "k-2"})
    assert other.status_code == 409
    assert other.json()["errorKey"] == "PRICE_CHANGED"
    assert count(directory, tables.tasks) == 1
    assert balance(directory, account) == 10_000 - 15
    assert_reconciles(directory)


def test_malformed_quote_ids_name_the_field(client: TestClient, account: Account) -> None:
    response = confirm(client, account, ["1"], "abc")
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "quote_id"


def test_the_housekeeping_purges_expired_quotes(directory: Runtime, account: Account, clock: FakeClock) -> None:
    quotes.create(
        directory, account.id, Channel.EMAIL, unlocks.precheck(directory, account.id, Channel.EMAIL, "100", ["1"])
    )
    assert count(directory, tables.quotes) == 1
    assert quotes.purge_expired(directory) == 0
    clock.advance(600)
    Housekeeper(directory).run_due()  # every job is due at a housekeeper's first pass
    assert count(directory, tables.quotes) == 0


def test_a_confirmed_quote_replays_even_after_it_expired(
    client: TestClient, directory: Runtime, account: Account, clock: FakeClock
) -> None:
    answer = quote(client, account, ["1"])
    first = confirm(client, account, ["1"], answer["quote_id"])
    clock.advance(3600)
    again = confirm(client, account, ["1"], answer["quote_id"])
    assert again.status_code == first.status_code == 201
    assert again.content == first.content
    other_body = confirm(client, account, ["2"], answer["quote_id"])
    assert other_body.status_code == 422
    assert count(directory, tables.tasks) == 1


def test_the_quote_lifetime_is_configurable(
    directory: Runtime, account: Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(directory, "settings", directory.settings.model_copy(update={"quote_ttl_seconds": 30}))
    checked = unlocks.precheck(directory, account.id, Channel.PHONE, "100", ["1"])
    made = quotes.create(directory, account.id, Channel.PHONE, checked)
    assert made is not None
    assert made.expires_at == clock.now() + timedelta(seconds=30)
