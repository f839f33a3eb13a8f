"""``contactvault demo``: the whole workflow against an embedded server, or against a given one."""

from __future__ import annotations

import csv
import importlib.util
import tempfile
from pathlib import Path

import httpx
import pytest

from contactvault.cli.client import demo
from contactvault.cli.client.demo import pick_people
from contactvault.client import Client
from tests.client.fake_api import FakeAPI
from tests.factories import Account

from .conftest import CLI, LiveServer


@pytest.fixture(autouse=True)
def _temporary_files_in_tmp_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The demo leaves its CSV export behind on purpose; here it lands in the test's own directory.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_demo_walks_the_workflow_on_an_embedded_server(cli: CLI) -> None:
    result = cli("demo", "--people", "300", "--events", "2")
    assert result.exit_code == 0, result.output
    steps = [
        "1. Your credits",
        "2. Find an event",
        "3. People at the event",
        "4. Pick 25 people by title",
        "5. Estimate and confirm",
        "6. Unlock",
        "7. Results and reconciliation",
        "8. Export",
    ]
    positions = [result.stdout.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "? [y/N]: y (auto-confirmed: demo credits)" in result.stdout
    assert "difference 0 ok" in result.stdout
    assert "Simulated mail world on 127.0.0.1" in result.stdout
    assert "Found by inference (not in the vault" in result.stdout
    assert "Done." in result.stdout


# The embedded directory is seeded with a fixed seed, so who is picked and who has an email is the same every run:
# the 6 people the demo's mail world serves (no email in the vault) come first and are found by inference; of the
# first 10 picked, 1 is found by nobody (a partial delivery, exit 4); the first one is found (exit 0).
@pytest.mark.parametrize(("pick", "delivered", "failed", "exit_code", "inferred"), [(10, 9, 1, 4, 6), (1, 1, 0, 0, 1)])
def test_demo_json_summary_and_export_file(
    cli: CLI, tmp_path: Path, pick: int, delivered: int, failed: int, exit_code: int, inferred: int
) -> None:
    body = cli.json("demo", "--people", "300", "--events", "2", "--pick", str(pick))
    assert len(body["picked"]) == pick
    run = body["result"]
    assert run["status"] == "completed"
    assert run["reconciliation"]["ok"]
    assert (len(run["delivered"]), len(run["failed"])) == (delivered, failed)
    assert {f["errorCode"] for f in run["failed"]} <= {"UNRESOLVED"}
    assert run["exitCode"] == exit_code
    assert len(body["inferred"]) == inferred
    assert set(body["inferred"]) <= {c["personnelId"] for c in run["delivered"]}
    export = Path(body["exportFile"])
    assert export.parent == tmp_path
    with export.open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["personnel_id"] for r in rows) == sorted(c["personnelId"] for c in run["delivered"])
    assert all(r["event_id"] == body["eventId"] for r in rows)


def test_demo_against_a_given_server_spends_only_with_yes_all(cli: CLI, live: LiveServer, user: Account) -> None:
    refused = cli("demo", "--base-url", live.base_url, "--api-key", user.api_key)
    assert refused.exit_code == 2
    assert "pass --yes-all" in refused.stderr
    balance = httpx.get(f"{live.base_url}/external/credits/balance", headers=user.headers, timeout=10)
    assert balance.json()["totalBalance"] == 10_000

    body = cli.json("demo", "--base-url", live.base_url, "--api-key", user.api_key, "--yes-all")
    assert body["baseUrl"] == live.base_url
    assert body["eventId"] == "100"
    assert body["picked"][:3] == ["5", "10", "15"]  # "VP" titles first
    assert body["result"]["reconciliation"]["charged"] == 15 * len(body["result"]["delivered"])


def test_without_the_server_extra_the_embedded_demo_says_what_to_install(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    result = cli("demo")
    assert result.exit_code == 1
    assert "needs the server extra (uvicorn is not installed)" in result.stderr


def test_ctrl_c_at_the_demo_prompt_is_an_error_line_and_130(
    cli: CLI, live: LiveServer, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "is_interactive", lambda: True)
    # End of input takes click's Ctrl-C path at a prompt (both become Abort).
    result = cli("demo", "--base-url", live.base_url, "--api-key", user.api_key, input="")
    assert result.exit_code == 130, result.output
    assert "Aborted" not in result.output
    assert result.stderr.strip().splitlines()[-1] == "error: interrupted at a prompt"
    balance = httpx.get(f"{live.base_url}/external/credits/balance", headers=user.headers, timeout=10)
    assert balance.json()["totalBalance"] == 10_000


def test_the_demo_takes_insecure_as_its_refusal_says(cli: CLI, no_backoff: None) -> None:
    refused = cli("demo", "--base-url", "http://cv.invalid:8000", "--api-key", "sk_x")
    assert refused.exit_code == 2
    assert "or pass --insecure" in refused.stderr.replace("\n", " ")
    allowed = cli("demo", "--base-url", "http://cv.invalid:8000", "--api-key", "sk_x", "--insecure")
    assert allowed.exit_code == 1
    assert "cannot reach http://cv.invalid:8000" in allowed.stderr.replace("\n", "")


def test_demo_picks_only_people_likely_to_deliver(cli: CLI, live: LiveServer, user: Account) -> None:
    # 10, 20 and 30 have no email in the test directory: their unlocks fail (uncharged), and would fail again.
    failed = cli(
        "unlock", "--event", "100", "--ids", "10,20,30", "--yes", "--base-url", live.base_url, "--api-key", user.api_key
    )
    assert failed.exit_code == 1, failed.output
    body = cli.json("demo", "--base-url", live.base_url, "--api-key", user.api_key, "--yes-all", "--pick", "5")
    assert body["picked"] == ["5", "15", "25", "35", "40"]  # "VP" titles; 10, 20 and 30 passed over


def _fake_client(statuses: list[str]) -> Client:
    api = FakeAPI(people=len(statuses))
    for person, status in zip(api.people.values(), statuses, strict=True):
        person.status["email"] = status
    return Client(api_key="sk_test_secret", base_url="https://cv.test", transport=api.transport())


def test_pick_passes_over_failed_unlocking_and_unlocked_people() -> None:
    with _fake_client(["failed", "locked", "unlocking", "unlocked", "locked", "failed"]) as client:
        pick = pick_people(client, "100", 5)
    assert [p.id for p in pick.people] == ["2", "5"]
    assert pick.passed_over == {"failed": 2, "unlocking": 1, "unlocked": 1}
    assert pick.shortfall("100", 5) == (
        "Only 2 people at event 100 are still locked; passed over: 2 whose unlock failed before "
        "(it would fail again), 1 unlocking, 1 already unlocked."
    )


def test_with_nobody_likely_to_deliver_the_demo_says_why() -> None:
    with _fake_client(["failed", "unlocked", "failed"]) as client:
        pick = pick_people(client, "100", 5)
    assert pick.people == []
    assert pick.shortfall("100", 5) == (
        "Nobody at event 100 is still locked; passed over: 2 whose unlock failed before (it would fail again), "
        "1 already unlocked."
    )


def test_more_delivered_than_shown_points_to_the_demos_own_export(cli: CLI) -> None:
    result = cli("demo", "--people", "300", "--events", "2", "--pick", "30")
    assert result.exit_code == 0, result.output
    # The demo's state file is thrown away: `contactvault export` would write a header only.
    assert "`contactvault export`" not in result.stdout
    assert "more: all are in the CSV export of step 8" in result.stdout
    assert "Wrote " in result.stdout.split("more: all are in the CSV export of step 8")[1]
