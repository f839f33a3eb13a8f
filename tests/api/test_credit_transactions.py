"""Extension: GET /external/credits/transactions, the itemised ledger of the key's account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from contactvault.server.clock import FakeClock
from contactvault.server.domain.ledger import BucketKind
from contactvault.server.runtime import Runtime
from contactvault.server.services import credits, expiry
from tests.engine import drain
from tests.factories import BIG_EVENT, Account

URL = "/external/credits/transactions"
SUBMIT = "/external/contacts/unlock"


def _submit(client: TestClient, account: Account, ids: list[str], source: str | None = None) -> str:
    headers = {**account.headers, **({"x-call-source": source} if source is not None else {})}
    response = client.post(SUBMIT, json={"event_id": str(BIG_EVENT), "personnel_ids": ids}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["task_id"])


def _everything(client: TestClient, account: Account, **params: str) -> list[dict[str, object]]:
    body = client.get(URL, params={"pageSize": "100", **params}, headers=account.headers).json()
    assert body["total"] == len(body["items"])
    return list(body["items"])


def test_the_ledger_itemises_every_posting_and_adds_up_to_the_balance(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    credits.grant(directory, account.id, 500, BucketKind.GIFT)
    task_id = _submit(client, account, ["1", "2", "10"])  # person 10 has no email: released
    open_task = _submit(client, account, ["3"])
    drain(directory)
    _submit(client, account, ["4"])  # still held

    items = _everything(client, account)
    assert [int(str(i["entryId"])) for i in items] == sorted((int(str(i["entryId"])) for i in items), reverse=True)
    assert sorted(str(i["kind"]) for i in items if i["taskId"] == task_id) == [
        "capture",
        "capture",
        "hold",
        "release",
    ]
    assert {i["kind"] for i in items if i["taskId"] == open_task} == {"hold", "capture"}
    assert [(i["availableDelta"], i["bucket"]) for i in items if i["kind"] == "grant"] == [
        (500, "gift"),
        (10_000, "subscription"),
    ]
    balance = client.get("/external/credits/balance", headers=account.headers).json()
    assert sum(int(str(i["availableDelta"])) for i in items) == balance["totalBalance"]
    assert sum(int(str(i["heldDelta"])) for i in items) == balance["reservedBalance"] == 15


def test_each_posting_carries_the_call_source_of_its_task(client: TestClient, account: Account) -> None:
    sent = {source: _submit(client, account, [str(n)], source) for n, source in enumerate(("cli", "console"), 1)}
    sent["agent"] = _submit(client, account, ["3"], "Agent")
    sent["api"] = _submit(client, account, ["4"], "curl/8.5")  # anything else is recorded as api
    unsent = _submit(client, account, ["5"])
    holds = {i["taskId"]: i["callSource"] for i in _everything(client, account, kind="hold")}
    assert holds == {**{task: source for source, task in sent.items()}, unsent: "api"}


def test_filters_by_task_kind_and_time(
    client: TestClient, directory: Runtime, account: Account, clock: FakeClock
) -> None:
    first = _submit(client, account, ["1"])
    clock.advance(3600)
    later = clock.now()
    second = _submit(client, account, ["2"])
    drain(directory)
    assert {i["taskId"] for i in _everything(client, account, task_id=first)} == {first}
    assert {i["kind"] for i in _everything(client, account, kind="grant,hold")} == {"grant", "hold"}
    assert {i["taskId"] for i in _everything(client, account, since=later.isoformat(), kind="hold")} == {second}
    assert {i["taskId"] for i in _everything(client, account, until=later.isoformat(), kind="hold")} == {first}


def test_pages_stay_put_while_new_postings_arrive(client: TestClient, directory: Runtime, account: Account) -> None:
    for amount in (1, 2, 3, 4):
        credits.grant(directory, account.id, amount)
    snapshot = _everything(client, account)
    first = client.get(URL, params={"pageSize": "2"}, headers=account.headers).json()
    assert (first["total"], first["totalPages"], first["hasMore"]) == (5, 3, True)
    assert first["upToId"] == snapshot[0]["entryId"]
    seen = list(first["items"])
    for page in (2, 3):
        credits.grant(directory, account.id, 100 + page)  # a newer posting lands between two page reads
        _submit(client, account, [str(page)])
        params = {"pageSize": "2", "page": str(page), "up_to_id": first["upToId"]}
        body = client.get(URL, params=params, headers=account.headers).json()
        assert (body["total"], body["upToId"]) == (5, first["upToId"])
        seen += body["items"]
    assert seen == snapshot  # nothing shifted, repeated or skipped


def test_another_accounts_postings_are_never_listed(
    client: TestClient, directory: Runtime, account: Account, other_account: Account
) -> None:
    theirs = _submit(client, other_account, ["1"])
    credits.grant(directory, other_account.id, 42)
    mine = _everything(client, account)
    assert [(i["kind"], i["availableDelta"]) for i in mine] == [("grant", 10_000)]
    assert _everything(client, account, task_id=theirs) == []
    their_last = _everything(client, other_account)[0]["entryId"]
    assert _everything(client, account, up_to_id=str(their_last)) == mine


def test_expired_credits_are_listed_as_expire_postings_and_the_sums_still_match_the_balance(
    client: TestClient, directory: Runtime, account: Account, clock: FakeClock
) -> None:
    credits.grant(directory, account.id, 70, BucketKind.ADDON, clock.now() + timedelta(minutes=5))
    clock.advance(300)
    expiry.expire_credits(directory)
    [posting] = _everything(client, account, kind="expire")
    assert (posting["availableDelta"], posting["heldDelta"], posting["bucket"]) == (-70, 0, "addon")
    assert (posting["causeType"], posting["taskId"], posting["callSource"]) == ("expiry", None, None)
    everything = _everything(client, account)
    balance = client.get("/external/credits/balance", headers=account.headers).json()
    assert sum(int(str(i["availableDelta"])) for i in everything) == balance["totalBalance"] == 10_000


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("task_id", "abc"),
        ("task_id", "-1"),
        ("kind", "hold,refund"),
        ("since", "yesterday"),
        ("until", "2026-13-01"),
        ("up_to_id", "1.5"),
        ("pageSize", "101"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(client: TestClient, account: Account, field: str, value: str) -> None:
    response = client.get(URL, params={field: value}, headers=account.headers)
    assert response.status_code == 400
    assert response.json()["details"] == {"field": field}


def test_the_ledger_needs_a_key(client: TestClient) -> None:
    assert client.get(URL).status_code == 401
