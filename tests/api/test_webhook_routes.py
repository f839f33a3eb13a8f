"""/external/webhooks: create (secret once), read, change, rotate, test, attempts, resend, recover, delete."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.runtime import Runtime
from contactvault.server.services import webhooks
from contactvault.webhooks import decode_secret
from tests.api.tour import WEBHOOKS
from tests.factories import Account

URL = "https://hooks.example.com/contactvault"


def test_create_shows_the_secret_once(client: TestClient, account: Account) -> None:
    created = client.post(WEBHOOKS, json={"url": URL, "description": "CRM"}, headers=account.headers)
    assert created.status_code == 201
    body = created.json()
    assert len(decode_secret(body["secret"])) == 32
    assert body["eventTypes"] == []
    assert body["enabled"] is True
    fetched = client.get(f"{WEBHOOKS}/{body['id']}", headers=account.headers).json()
    assert fetched == {k: v for k, v in body.items() if k != "secret"}
    assert client.get(WEBHOOKS, headers=account.headers).json() == {"items": [fetched]}


def test_bad_input_names_the_field_and_creates_nothing(
    client: TestClient, account: Account, directory: Runtime
) -> None:
    for payload, field in [
        ({"url": "http://hooks.example.com/"}, "url"),
        ({"url": URL, "eventTypes": ["task.exploded"]}, "eventTypes"),
        ({"url": URL, "extra": 1}, "extra"),
        ({}, "url"),
    ]:
        answer = client.post(WEBHOOKS, json=payload, headers=account.headers)
        assert answer.status_code == 400, payload
        assert answer.json()["details"]["field"].startswith(field), answer.json()
    assert webhooks.list_endpoints(directory, account.id) == []


def test_another_account_gets_404(client: TestClient, account: Account, other_account: Account) -> None:
    endpoint = client.post(WEBHOOKS, json={"url": URL}, headers=account.headers).json()["id"]
    assert client.get(f"{WEBHOOKS}/{endpoint}", headers=other_account.headers).status_code == 404
    assert client.delete(f"{WEBHOOKS}/{endpoint}", headers=other_account.headers).status_code == 404
    assert client.post(f"{WEBHOOKS}/{endpoint}/test", headers=other_account.headers).status_code == 404
    assert client.get(f"{WEBHOOKS}/{endpoint}", headers=account.headers).status_code == 200


def test_update_rotate_test_and_delete(client: TestClient, account: Account) -> None:
    created = client.post(WEBHOOKS, json={"url": URL}, headers=account.headers).json()
    one = f"{WEBHOOKS}/{created['id']}"
    changed = client.patch(one, json={"enabled": False, "eventTypes": ["contact.erased"]}, headers=account.headers)
    assert (changed.json()["enabled"], changed.json()["disabledReason"]) == (False, "by_account")
    rotated = client.post(one + "/rotate-secret", json={"overlapSeconds": 3600}, headers=account.headers).json()
    assert rotated["secret"] != created["secret"]
    queued = client.post(one + "/test", headers=account.headers)
    assert queued.status_code == 202
    message = queued.json()["messageId"]
    assert client.post(f"{one}/messages/{message}/resend", headers=account.headers).status_code == 202
    assert client.get(one + "/attempts", headers=account.headers).json() == {"items": []}
    assert client.delete(one, headers=account.headers).json() == {"id": created["id"], "deleted": True}
    assert client.get(one, headers=account.headers).status_code == 404


def test_payload_is_thin_by_default_and_full_on_request(client: TestClient, account: Account) -> None:
    thin = client.post(WEBHOOKS, json={"url": URL}, headers=account.headers).json()
    assert thin["payload"] == "thin"
    full = client.post(WEBHOOKS, json={"url": URL, "payload": "full"}, headers=account.headers).json()
    assert full["payload"] == "full"
    assert client.get(f"{WEBHOOKS}/{full['id']}", headers=account.headers).json()["payload"] == "full"
    back = client.patch(f"{WEBHOOKS}/{full['id']}", json={"payload": "thin"}, headers=account.headers).json()
    assert back["payload"] == "thin"
    untouched = client.patch(f"{WEBHOOKS}/{thin['id']}", json={"description": "x"}, headers=account.headers).json()
    assert untouched["payload"] == "thin"


def test_a_bad_payload_is_400_naming_the_field_and_changes_nothing(
    client: TestClient, account: Account, directory: Runtime
) -> None:
    for bad in ("fat", "FULL", "", None, 1):
        answer = client.post(WEBHOOKS, json={"url": URL, "payload": bad}, headers=account.headers)
        assert answer.status_code == 400, bad
        assert answer.json()["details"]["field"].startswith("payload"), answer.json()
    assert webhooks.list_endpoints(directory, account.id) == []
    created = client.post(WEBHOOKS, json={"url": URL}, headers=account.headers).json()
    answer = client.patch(
        f"{WEBHOOKS}/{created['id']}", json={"payload": "fat", "description": "changed"}, headers=account.headers
    )
    assert answer.status_code == 400
    assert answer.json()["details"]["field"].startswith("payload")
    (endpoint,) = webhooks.list_endpoints(directory, account.id)
    assert (endpoint.payload, endpoint.description, endpoint.updated_at.isoformat().replace("+00:00", "Z")) == (
        "thin",
        "",
        created["updatedAt"],
    )


def test_the_service_refuses_a_bad_payload_naming_the_field(directory: Runtime, account: Account) -> None:
    with pytest.raises(InvalidRequest) as refused:
        webhooks.create_endpoint(directory, account.id, URL, None, [], "fat")
    assert refused.value.details == {"field": "payload"}
    created = webhooks.create_endpoint(directory, account.id, URL)
    with pytest.raises(InvalidRequest):
        webhooks.update_endpoint(directory, account.id, created.endpoint.id, description="x", payload="fat")
    assert webhooks.get_endpoint(directory, account.id, created.endpoint.id) == created.endpoint
