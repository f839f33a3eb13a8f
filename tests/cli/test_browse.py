"""``credits``, ``events list``, ``people list/show`` and ``contacts search`` against the live server."""

from __future__ import annotations

import pytest

from tests.e2e.processes import free_port
from tests.factories import Account

from .conftest import CLI, LiveServer


def test_credits_table_and_json(connected: CLI) -> None:
    table = connected("credits")
    assert table.exit_code == 0
    assert "Available now" in table.stdout
    assert "10,000" in table.stdout
    body = connected.json("credits")
    assert body["totalBalance"] == 10_000
    assert body["subscriptionBalance"] == 10_000


def test_connection_options_beat_the_environment(cli: CLI, live: LiveServer, user: Account) -> None:
    body = cli.json("credits", "--base-url", live.base_url, "--api-key", user.api_key)
    assert body["totalBalance"] == 10_000


def test_the_lensmor_key_variable_is_not_sent_to_another_server(
    cli: CLI, live: LiveServer, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LENSMOR_API_KEY", user.api_key)
    monkeypatch.setenv("CONTACTVAULT_BASE_URL", live.base_url)
    result = cli("credits")
    assert result.exit_code == 2
    line = result.stderr.replace("\n", "")
    assert "$LENSMOR_API_KEY is only sent to https://*.lensmor.com" in line
    assert 'CONTACTVAULT_API_KEY="$LENSMOR_API_KEY"' in line
    assert user.api_key not in result.stderr
    # Saying so is enough.
    monkeypatch.setenv("CONTACTVAULT_API_KEY", user.api_key)
    assert cli.json("credits")["totalBalance"] == 10_000


def test_without_a_key_the_command_exits_2_and_says_how_to_get_one(cli: CLI) -> None:
    result = cli("credits")
    assert result.exit_code == 2
    assert "no API key" in result.stderr
    assert "contactvault login" in result.stderr
    assert "--api-key" in result.stderr
    assert "api_key=" not in result.stderr  # the SDK's wording means nothing on a command line


def test_a_rejected_key_from_the_environment_says_to_fix_the_variable(
    cli: CLI, live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    revoked = "sk_0badc0de_" + "x" * 32
    monkeypatch.setenv("CONTACTVAULT_BASE_URL", live.base_url)
    monkeypatch.setenv("CONTACTVAULT_API_KEY", revoked)
    result = cli("credits")
    assert result.exit_code == 1
    line = result.stderr.replace("\n", "")
    assert "rejected the API key (401 INVALID_API_KEY): it comes from $CONTACTVAULT_API_KEY" in line
    assert line.rstrip().endswith("fix or unset $CONTACTVAULT_API_KEY")
    assert revoked not in result.stderr
    given = cli("credits", "--api-key", revoked)
    assert "check the key you gave" in given.stderr.replace("\n", "")


def test_plain_http_to_another_host_needs_insecure(cli: CLI, no_backoff: None) -> None:
    refused = cli("credits", "--base-url", "http://cv.invalid:8000", "--api-key", "sk_x")
    assert refused.exit_code == 2
    assert (
        "refusing to send the API key over plain HTTP to cv.invalid: use an https:// base URL, or pass --insecure"
        in refused.stderr.replace("\n", "")
    )
    allowed = cli("credits", "--base-url", "http://cv.invalid:8000", "--api-key", "sk_x", "--insecure")
    assert allowed.exit_code == 1
    assert "cannot reach http://cv.invalid:8000" in allowed.stderr.replace("\n", "")


def test_a_server_that_is_down_is_retried_out_loud(cli: CLI, no_backoff: None) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    result = cli("credits", "--base-url", down, "--api-key", "sk_x", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""  # the notices are for people: stderr only
    lines = result.stderr.strip().splitlines()
    assert lines[:3] == [f"server not reachable, retrying ({n}/4)…" for n in (2, 3, 4)]
    assert lines[-1].startswith(f"error: cannot reach {down}")


def test_events_list_filters_and_paginates(connected: CLI) -> None:
    page = connected.json("events", "list", "--page-size", "1")
    assert (page["total"], page["pageSize"], page["hasMore"]) == (2, 1, True)
    berlin = connected.json("events", "list", "--city", "Berlin")
    assert [e["id"] for e in berlin["items"]] == ["100"]
    everything = connected.json("events", "list", "--all")
    assert {e["id"] for e in everything["items"]} == {"100", "200"}
    assert everything["total"] == 2
    table = connected("events", "list", "--keyword", "Retail")
    assert table.exit_code == 0
    assert "Berlin Retail Expo 2026" in table.stdout
    assert "Page 1 of 1 (1 event)." in table.stdout


def test_events_list_rejects_a_page_size_over_100(connected: CLI) -> None:
    assert connected("events", "list", "--page-size", "101").exit_code == 2


def test_people_list_with_search_and_all_pages(connected: CLI) -> None:
    vps = connected.json("people", "list", "--event", "100", "--search", "VP", "--page-size", "10")
    assert vps["total"] == 60
    assert len(vps["items"]) == 10
    assert all("VP" in person["title"] for person in vps["items"])
    everyone = connected.json("people", "list", "--event", "200", "--all")
    assert everyone["total"] == 10
    table = connected("people", "list", "--event", "200")
    assert table.exit_code == 0
    assert "Person 1 Example" in table.stdout
    assert "locked" in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["people", "list"], 2, "--event"),
        (["people", "list", "--event", "abc"], 2, "--event must be digits"),
        (["people", "list", "--event", "999"], 1, "not found"),
        (["people", "show", "x1"], 2, "personnel id must be digits"),
        (["people", "show", "999999"], 1, "not found"),
    ],
)
def test_people_usage_errors_and_unknown_ids(connected: CLI, args: list[str], code: int, message: str) -> None:
    result = connected(*args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_people_show_json_and_table(connected: CLI) -> None:
    person = connected.json("people", "show", "5")
    assert person["id"] == "5"
    assert person["title"] == "VP of Partnerships"
    assert person["email"] is None
    assert person["contactUnlockStatus"] == "locked"
    table = connected("people", "show", "5")
    assert "Person 5 Example" in table.stdout
    assert "Acme Widgets GmbH" in table.stdout


def test_contacts_search(connected: CLI) -> None:
    page = connected.json("contacts", "search", "--company", "Northwind", "--role", "VP", "--page-size", "5")
    assert page["total"] == 30  # even ids that are multiples of 5, at Northwind
    assert all(p["companyName"] == "Northwind Logistics" for p in page["items"])
    found = connected.json("contacts", "search", "--company", "Acme", "--person-name", "Person 7 Example")
    assert "7" in [p["id"] for p in found["items"]]
    table = connected("contacts", "search", "--company", "Acme", "--page-size", "3")
    assert table.exit_code == 0
    assert "Acme Widgets GmbH" in table.stdout


def test_contacts_search_needs_a_company(connected: CLI) -> None:
    result = connected("contacts", "search")
    assert result.exit_code == 2
    assert "--company" in result.stderr


def test_an_erased_contact_shows_erased_not_ready(connected: CLI, live: LiveServer) -> None:
    from contactvault.server.services import erasure

    pid = "291"  # has an email and a phone; no other test uses this person
    connected.json("unlock", "--event", "100", "--ids", pid, "--yes")
    connected.json("unlock", "--event", "100", "--ids", pid, "--phone", "--yes")
    erasure.erase_person(live.rt, int(pid))
    person = connected.json("people", "show", pid)
    assert (person["email"], person["phone"]) == (None, None)
    table = connected("people", "show", pid).stdout
    assert "ready" not in table
    assert [line.split("│")[2].strip() for line in table.splitlines() if "Email" in line or "Phone" in line] == [
        "erased",
        "erased",
    ]
