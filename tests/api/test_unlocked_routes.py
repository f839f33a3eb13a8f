"""GET /external/contacts/unlocked and /external/contacts/erased (extensions for keeping client copies true)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from contactvault.server.clock import FakeClock
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import erasure
from contactvault.server.services import suppressions as opt_out
from tests.engine import drain, submit
from tests.factories import Account, email_of, phone_of

PAGE_FIELDS = {"items", "total", "page", "pageSize", "totalPages", "hasMore"}


def get(client: TestClient, account: Account, route: str, **params: Any) -> dict[str, Any]:
    """A 200 answer's body."""
    response = client.get(f"/external/contacts/{route}", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == PAGE_FIELDS
    return body


def unlock(rt: Runtime, account: Account, ids: list[int], channel: Channel = Channel.EMAIL) -> None:
    """Submit and let the worker finish."""
    submit(rt, account, ids, channel=channel)
    drain(rt)


def test_unlocked_lists_every_contact_of_this_account_only(
    directory: Runtime, client: TestClient, account: Account, other_account: Account
) -> None:
    unlock(directory, account, [1, 2, 10])  # 10 has no email: failed, not an unlock
    unlock(directory, account, [3], Channel.PHONE)
    unlock(directory, other_account, [5])
    body = get(client, account, "unlocked")
    assert (body["total"], body["totalPages"], body["hasMore"]) == (3, 1, False)
    assert [(i["personnelId"], i["channel"], i["value"]) for i in body["items"]] == [
        ("1", "email", email_of(1)),
        ("2", "email", email_of(2)),
        ("3", "phone", phone_of(3)),
    ]
    first = body["items"][0]
    assert set(first) == {"personnelId", "channel", "value", "verification", "source", "unlockedAt", "taskId"}
    assert first["unlockedAt"].endswith("Z")
    assert first["taskId"].isdigit()
    assert set(first["verification"]) == {"status", "score", "checkedAt"}
    assert [i["personnelId"] for i in get(client, other_account, "unlocked")["items"]] == ["5"]


def test_unlocked_pages_and_since(directory: Runtime, client: TestClient, account: Account, clock: FakeClock) -> None:
    unlock(directory, account, [1, 2, 3])
    clock.advance(3600)
    later = clock.now().isoformat()
    unlock(directory, account, [4])
    page = get(client, account, "unlocked", pageSize=2, page=2)
    assert (page["total"], page["totalPages"], page["hasMore"], page["page"], page["pageSize"]) == (4, 2, False, 2, 2)
    assert [i["personnelId"] for i in page["items"]] == ["3", "4"]
    assert [i["personnelId"] for i in get(client, account, "unlocked", since=later)["items"]] == ["4"]
    empty = get(client, account, "unlocked", since="2999-01-01T00:00:00Z")
    assert (empty["items"], empty["total"], empty["totalPages"]) == ([], 0, 0)


def test_unlocked_hides_suppressed_and_erased_values(directory: Runtime, client: TestClient, account: Account) -> None:
    unlock(directory, account, [1, 2, 4, 5])
    unlock(directory, account, [3], Channel.PHONE)
    opt_out.suppress(directory, "email", email_of(1).upper())  # the address, any case
    opt_out.suppress(directory, "person", "3")  # the whole person: the phone too
    erasure.erase_person(directory, 2)
    values = {(i["personnelId"], i["channel"]): i["value"] for i in get(client, account, "unlocked")["items"]}
    assert values == {
        ("1", "email"): None,
        ("2", "email"): None,
        ("3", "phone"): None,
        ("4", "email"): email_of(4),
        ("5", "email"): email_of(5),
    }


def test_erased_lists_erasures_and_opt_outs_of_this_accounts_people(
    directory: Runtime, client: TestClient, account: Account, other_account: Account, clock: FakeClock
) -> None:
    unlock(directory, account, [1, 2, 4, 5])
    unlock(directory, account, [3], Channel.PHONE)
    unlock(directory, other_account, [7])
    assert get(client, account, "erased")["items"] == []
    clock.advance(60)
    erasure.erase_person(directory, 2)
    erasure.erase_person(directory, 7)  # not this account's
    clock.advance(60)
    cut = clock.now().isoformat()
    opt_out.suppress(directory, "email", email_of(1))
    opt_out.suppress(directory, "person", "3")
    opt_out.suppress(directory, "email", email_of(8))  # never unlocked by anyone
    body = get(client, account, "erased")
    assert [(i["personnelId"], i["reason"], i["channel"]) for i in body["items"]] == [
        ("2", "erased", None),
        ("1", "opted_out", "email"),
        ("3", "opted_out", None),
    ]
    assert body["items"][0]["at"] < body["items"][1]["at"]
    assert all(i["at"].endswith("Z") for i in body["items"])
    assert [i["personnelId"] for i in get(client, account, "erased", since=cut)["items"]] == ["1", "3"]
    assert [i["personnelId"] for i in get(client, other_account, "erased")["items"]] == ["7"]
    second = get(client, account, "erased", pageSize=2, page=2)
    assert (second["total"], second["totalPages"], [i["personnelId"] for i in second["items"]]) == (3, 2, ["3"])


@pytest.mark.parametrize("route", ["unlocked", "erased"])
@pytest.mark.parametrize("since", ["yesterday", "2026-13-01T00:00:00Z", "1700000000", ""])
def test_a_bad_since_is_a_400_naming_it(
    directory: Runtime, client: TestClient, account: Account, route: str, since: str
) -> None:
    response = client.get(f"/external/contacts/{route}", params={"since": since}, headers=account.headers)
    assert response.status_code == 400
    body = response.json()
    assert body["errorKey"] == "INVALID_REQUEST"
    assert body["details"] == {"field": "since"}
    assert "since" in body["message"]


@pytest.mark.parametrize("route", ["unlocked", "erased"])
def test_the_routes_need_a_key(directory: Runtime, client: TestClient, route: str) -> None:
    assert client.get(f"/external/contacts/{route}").status_code == 401


def test_both_routes_are_in_the_openapi_document(directory: Runtime, client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for route, page in (("unlocked", "UnlockedPage"), ("erased", "ErasedPage")):
        operation = spec["paths"][f"/external/contacts/{route}"]["get"]
        assert {p["name"] for p in operation["parameters"]} >= {"since", "page", "pageSize"}
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{page}"}
        assert "400" in operation["responses"]
