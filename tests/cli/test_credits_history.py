"""``contactvault credits history``: the account's ledger postings against the live server."""

from __future__ import annotations

from tests.factories import Account, make_account

from .conftest import CLI, LiveServer


def test_history_lists_the_cli_unlocks_postings_as_cli_and_adds_up_to_the_balance(connected: CLI) -> None:
    unlocked = connected.json("unlock", "--event", "100", "--ids", "1,2,10", "--yes", code=4)  # 10 has no email
    (task_id,) = unlocked["taskIds"]
    body = connected.json("credits", "history")
    assert (body["total"], body["page"], body["hasMore"]) == (5, 1, False)
    assert [i["kind"] for i in body["items"]][-2:] == ["hold", "grant"]
    assert sorted(i["kind"] for i in body["items"] if i["taskId"] == task_id) == [
        "capture",
        "capture",
        "hold",
        "release",
    ]
    assert {i["callSource"] for i in body["items"] if i["taskId"] == task_id} == {"cli"}
    balance = connected.json("credits")
    assert sum(i["availableDelta"] for i in body["items"]) == balance["totalBalance"] == 10_000 - 30
    assert sum(i["heldDelta"] for i in body["items"]) == balance["reservedBalance"] == 0


def test_history_filters_pages_and_prints_a_table(connected: CLI) -> None:
    connected.json("unlock", "--event", "100", "--ids", "1", "--yes")
    second = connected.json("unlock", "--event", "100", "--ids", "2", "--yes")["taskIds"][0]
    holds = connected.json("credits", "history", "--kind", "hold")
    assert [i["kind"] for i in holds["items"]] == ["hold", "hold"]
    mine = connected.json("credits", "history", "--task", second, "--kind", "capture", "--kind", "hold")
    assert sorted(i["kind"] for i in mine["items"]) == ["capture", "hold"]
    paged = connected.json("credits", "history", "--page-size", "2", "--page", "2")
    assert (paged["total"], paged["totalPages"], len(paged["items"])) == (5, 3, 2)
    every = connected.json("credits", "history", "--all")
    assert every["total"] == len(every["items"]) == 5
    future = connected.json("credits", "history", "--since", "2999-01-01")
    assert future["items"] == []

    table = connected("credits", "history")
    assert table.exit_code == 0, table.stderr
    assert "Credit history" in table.stdout
    assert "+10,000" in table.stdout
    assert "-15" in table.stdout
    assert "cli" in table.stdout
    assert "Page 1 of 1 (5 postings)" in table.stdout


def test_history_refuses_bad_filters_before_calling_the_server(connected: CLI) -> None:
    unknown = connected("credits", "history", "--kind", "refund")
    assert unknown.exit_code == 2
    assert "--kind" in unknown.stderr
    bad_task = connected("credits", "history", "--task", "abc")
    assert bad_task.exit_code == 2
    assert "--task" in bad_task.stderr
    bad_since = connected("credits", "history", "--since", "yesterday")
    assert bad_since.exit_code != 0
    assert "since" in bad_since.stderr


def test_history_shows_only_the_keys_own_account(connected: CLI, live: LiveServer, user: Account, cli: CLI) -> None:
    other = make_account(live.rt, credit=42, name="other")
    connected.json("unlock", "--event", "100", "--ids", "3", "--yes")
    theirs = cli.json("credits", "history", "--base-url", live.base_url, "--api-key", other.api_key)
    assert [(i["kind"], i["availableDelta"]) for i in theirs["items"]] == [("grant", 42)]
