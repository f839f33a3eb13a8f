"""The operator API's operations: accounts, keys, credits (idempotent grants), the opt-out list and erasure, each
through the same services as ``contactvault admin``, audited, and writing nothing on bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contactvault.server.db import tables
from contactvault.server.domain.audit import AuditAction
from contactvault.server.runtime import Runtime
from contactvault.server.services import audit_view
from tests.engine import assert_reconciles, count, drain
from tests.factories import Account, OperatorKey, email_of, make_operator_key

ADMIN = "/admin/v1"


def operator_calls(rt: Runtime) -> list[dict[str, Any]]:
    """The operator.call audit rows, oldest first."""
    rows = audit_view.list_entries(rt, limit=1000)
    return [r for r in reversed(rows) if r["action"] == AuditAction.OPERATOR_CALL]


def grant(client: TestClient, operator: OperatorKey, account: Account, body: dict[str, Any], key: str | None = None):
    headers = {**operator.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(f"{ADMIN}/accounts/{account.id}/credits/grants", json=body, headers=headers)


def test_a_grant_with_the_same_idempotency_key_twice_grants_once(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    billing = make_operator_key(directory, "credits")
    buckets = count(directory, tables.credit_buckets)
    first = grant(client, billing, account, {"amount": 500, "bucket": "addon"}, key="invoice-42")
    second = grant(client, billing, account, {"amount": 500, "bucket": "addon"}, key="invoice-42")
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json()["totalBalance"] == 10_500
    assert count(directory, tables.credit_buckets) == buckets + 1
    assert client.get("/external/credits/balance", headers=account.headers).json()["totalBalance"] == 10_500
    other_body = grant(client, billing, account, {"amount": 600, "bucket": "addon"}, key="invoice-42")
    assert other_body.status_code == 422
    assert other_body.json()["errorKey"] == "IDEMPOTENCY_KEY_REUSED"
    assert_reconciles(directory)


def test_idempotency_keys_are_each_operator_keys_own(client: TestClient, directory: Runtime, account: Account) -> None:
    one, two = make_operator_key(directory, "credits"), make_operator_key(directory, "credits")
    assert grant(client, one, account, {"amount": 100}, key="k").status_code == 201
    again = grant(client, two, account, {"amount": 100}, key="k")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["totalBalance"] == 10_200


def test_a_grant_without_a_key_grants_each_time_and_the_balance_reads_back(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    billing = make_operator_key(directory, "credits")
    grant(client, billing, account, {"amount": 100, "bucket": "gift"})
    grant(client, billing, account, {"amount": 100, "bucket": "gift"})
    balance = client.get(f"{ADMIN}/accounts/{account.id}/credits/balance", headers=billing.headers)
    assert balance.status_code == 200
    assert (balance.json()["totalBalance"], balance.json()["giftBalance"]) == (10_200, 200)


def test_bad_grants_are_400_naming_the_field_and_write_nothing(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    billing = make_operator_key(directory, "credits")
    audit_rows = count(directory, tables.audit_log)
    buckets = count(directory, tables.credit_buckets)
    for body, field in (
        ({"amount": 0}, "amount"),
        ({"amount": "5"}, "amount"),
        ({}, "amount"),
        ({"amount": 5, "bucket": "gold"}, "bucket"),
        ({"amount": 5, "expires": "tomorrow"}, "expires"),
        ({"amount": 5, "expires": "2099-01-01T00:00:00"}, "expires"),
        ({"amount": 5, "expires": "2001-01-01T00:00:00Z"}, "expires"),
        ({"amount": 5, "currency": "EUR"}, "currency"),
    ):
        response = grant(client, billing, account, body, key="retry-me")
        assert response.status_code == 400, (body, response.text)
        assert response.json()["details"]["field"] == field, body
    assert count(directory, tables.credit_buckets) == buckets
    assert count(directory, tables.audit_log) == audit_rows
    assert count(directory, tables.idempotency_keys) == 0
    # The refused key was never stored: it works for the first good request.
    assert grant(client, billing, account, {"amount": 5}, key="retry-me").status_code == 201


def test_an_unknown_account_is_404(client: TestClient, directory: Runtime) -> None:
    billing = make_operator_key(directory, "credits")
    for path in ("/accounts/1/credits/balance", f"/accounts/{2**63}/credits/balance"):
        assert client.get(ADMIN + path, headers=billing.headers).status_code == 404
    response = client.post(f"{ADMIN}/accounts/1/credits/grants", json={"amount": 5}, headers=billing.headers)
    assert response.status_code == 404


def test_accounts_and_keys_through_the_api(client: TestClient, directory: Runtime) -> None:
    admin = make_operator_key(directory, "accounts", "credits")
    created = client.post(f"{ADMIN}/accounts", json={"name": "Acme Sales"}, headers=admin.headers)
    assert created.status_code == 201
    account_id = created.json()["accountId"]
    issued = client.post(
        f"{ADMIN}/accounts/{account_id}/keys",
        json={"label": "crm"},
        headers={**admin.headers, "Idempotency-Key": "key-1"},
    )
    assert issued.status_code == 201
    api_key = issued.json()["apiKey"]
    assert api_key.startswith(f"sk_{issued.json()['keyId']}_")
    customer = {"Authorization": f"Bearer {api_key}"}
    assert client.get("/external/credits/balance", headers=customer).status_code == 200
    # A replay names the same key but never shows the secret again (it is not stored).
    replay = client.post(
        f"{ADMIN}/accounts/{account_id}/keys",
        json={"label": "crm"},
        headers={**admin.headers, "Idempotency-Key": "key-1"},
    )
    assert replay.json() == {**issued.json(), "apiKey": None}
    assert replay.headers["Idempotent-Replayed"] == "true"
    listed = client.get(f"{ADMIN}/keys", params={"account": account_id}, headers=admin.headers).json()["keys"]
    assert [k["keyId"] for k in listed] == [issued.json()["keyId"]]
    assert api_key not in json.dumps(listed)
    with directory.db.read() as conn:
        stored = conn.execute(tables.idempotency_keys.select()).all()
    assert all(api_key.encode() not in bytes(row.response_body or b"") for row in stored)
    rotated = client.post(
        f"{ADMIN}/keys/{issued.json()['keyId']}/rotate", json={"overlap_seconds": 0}, headers=admin.headers
    )
    assert rotated.status_code == 201
    assert rotated.json()["replaces"] == issued.json()["keyId"]
    assert client.get("/external/credits/balance", headers=customer).status_code == 401  # no overlap
    successor = {"Authorization": f"Bearer {rotated.json()['apiKey']}"}
    assert client.get("/external/credits/balance", headers=successor).status_code == 200
    revoked = client.post(f"{ADMIN}/keys/{rotated.json()['keyId']}/revoke", headers=admin.headers)
    assert revoked.json() == {"keyId": rotated.json()["keyId"], "revoked": True}
    assert client.get("/external/credits/balance", headers=successor).status_code == 401


def test_guardrails_left_out_keep_their_value(client: TestClient, directory: Runtime, account: Account) -> None:
    admin = make_operator_key(directory, "accounts")
    path = f"{ADMIN}/keys/{account.key_id}/guardrails"
    first = client.post(path, json={"agent_max_per_call": 300}, headers=admin.headers).json()
    assert first == {"keyId": account.key_id, "agent": "on", "agentMaxPerCall": 300, "agentMaxPerDay": None}
    second = client.post(path, json={"agent": False}, headers=admin.headers).json()
    assert (second["agent"], second["agentMaxPerCall"]) == ("off", 300)
    assert client.post(path, json={"agent_max_per_call": -1}, headers=admin.headers).status_code == 400
    assert client.post(f"{ADMIN}/keys/00000000/guardrails", json={}, headers=admin.headers).status_code == 404


def test_a_suppression_through_the_api_blocks_the_next_unlock(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    privacy = make_operator_key(directory, "privacy")
    body = {"kind": "email", "value": email_of(3).upper()}
    added = client.post(f"{ADMIN}/suppressions", json=body, headers=privacy.headers)
    assert added.status_code == 200
    assert added.json() == {"kind": "email", "suppressed": True, "changed": True}
    again = client.post(f"{ADMIN}/suppressions", json=body, headers=privacy.headers)
    assert again.json()["changed"] is False
    task = client.post(
        "/external/contacts/unlock", json={"event_id": "100", "personnel_ids": ["3"]}, headers=account.headers
    ).json()
    drain(directory)
    polled = client.get(f"/external/contacts/unlock-tasks/{task['task_id']}", headers=account.headers).json()
    assert [(i["status"], i.get("errorCode")) for i in polled["items"]] == [("failed", "INELIGIBLE")]
    assert client.get("/external/credits/balance", headers=account.headers).json()["totalBalance"] == 10_000
    removed = client.post(f"{ADMIN}/suppressions/remove", json=body, headers=privacy.headers)
    assert removed.json() == {"kind": "email", "suppressed": False, "changed": True}
    assert email_of(3) not in json.dumps(audit_view.list_entries(directory, limit=1000)).lower()


def test_a_malformed_address_is_400_without_quoting_it_and_lists_nothing(
    client: TestClient, directory: Runtime
) -> None:
    privacy = make_operator_key(directory, "privacy")
    for body in (
        {"kind": "email", "value": "not-an-address"},
        {"kind": "phone", "value": "12"},
        {"kind": "person", "value": "abc"},
    ):
        response = client.post(f"{ADMIN}/suppressions", json=body, headers=privacy.headers)
        assert response.status_code == 400
        assert response.json()["details"]["field"] == "value"
        assert body["value"] not in response.json()["message"]
        assert client.post(f"{ADMIN}/erasures", json=body, headers=privacy.headers).status_code == 400
    assert count(directory, tables.suppressions) == 0
    assert operator_calls(directory) == []


def test_an_erasure_through_the_api(client: TestClient, directory: Runtime, account: Account) -> None:
    privacy = make_operator_key(directory, "privacy")
    client.post("/external/contacts/unlock", json={"event_id": "100", "personnel_ids": ["5"]}, headers=account.headers)
    drain(directory)
    profile = client.get("/external/personnel/profile", params={"personnel_id": "5"}, headers=account.headers)
    assert profile.json()["email"] == email_of(5)
    erased = client.post(
        f"{ADMIN}/erasures",
        json={"kind": "email", "value": email_of(5)},
        headers={**privacy.headers, "Idempotency-Key": "ticket-7", "X-Request-ID": "privacy-ticket-7"},
    )
    assert erased.status_code == 200
    report = erased.json()
    assert (report["personIds"], report["accountsThatUnlocked"]) == (["5"], [str(account.id)])
    assert report["traceId"] == "privacy-ticket-7"
    replay = client.post(
        f"{ADMIN}/erasures",
        json={"kind": "email", "value": email_of(5)},
        headers={**privacy.headers, "Idempotency-Key": "ticket-7"},
    )
    assert replay.content == erased.content
    profile = client.get("/external/personnel/profile", params={"personnel_id": "5"}, headers=account.headers)
    assert profile.json()["email"] is None
    by_person = client.post(f"{ADMIN}/erasures", json={"kind": "person", "value": "5"}, headers=privacy.headers)
    assert by_person.json()["personIds"] == ["5"]
    assert_reconciles(directory)


def test_every_call_is_audited_with_the_operator_key_and_no_personal_value(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    operator = make_operator_key(directory)
    grant(client, operator, account, {"amount": 70}, key="inv-1")
    grant(client, operator, account, {"amount": 70}, key="inv-1")  # the replay is a call too
    client.get(f"{ADMIN}/accounts/{account.id}/credits/balance", headers=operator.headers)
    client.post(f"{ADMIN}/suppressions", json={"kind": "email", "value": email_of(9)}, headers=operator.headers)
    client.get(f"{ADMIN}/accounts/1/credits/balance", headers=operator.headers)  # 404
    calls = operator_calls(directory)
    assert [(c["subjectId"], c["detail"]["operation"], c["detail"]["status"]) for c in calls] == [
        (operator.key_id, "credits_grant", 201),
        (operator.key_id, "credits_grant", 201),
        (operator.key_id, "credits_balance", 200),
        (operator.key_id, "suppression_add", 200),
        (operator.key_id, "credits_balance", 404),
    ]
    assert calls[0]["accountId"] == str(account.id)
    assert calls[0]["credits"] == 70
    assert calls[3]["detail"]["target"] == "email"
    assert all(c["traceId"] for c in calls)
    everything = json.dumps(audit_view.list_entries(directory, limit=1000)).lower()
    assert email_of(9) not in everything
    assert operator.api_key.lower() not in everything


def test_a_grant_whose_key_was_taken_over_rolls_back_with_its_reply(rt: Runtime) -> None:
    # The grant and its stored reply are one transaction: when the claim is no longer ours at commit time (a retry
    # took the key over), the grant goes too, so one Idempotency-Key still has at most one effect.
    from sqlalchemy import update

    from contactvault.server.domain.errors import IdempotencyKeyInUse
    from contactvault.server.services import accounts, credits, idempotency

    account_id = accounts.create_account(rt, "billing test")
    digest = idempotency.fingerprint("grant", "100")

    def act(keep: Any) -> credits.Balance:
        with rt.db.write() as conn:  # a take-over by a retry: the row now carries a later token
            conn.execute(update(tables.idempotency_keys).values(created_at=rt.clock.now().replace(year=2100)))
        return credits.grant(rt, account_id, 100, keep=keep)

    with pytest.raises(IdempotencyKeyInUse):
        idempotency.run_keyed(rt, -1, "inv-9", digest, act, lambda b: (201, {"total": b.total_balance}), atomic=True)
    assert credits.account_balance(rt, account_id).total_balance == 0
    assert count(rt, tables.credit_buckets) == 0
