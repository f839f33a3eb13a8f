"""``contactvault unlock``: selection, estimate, confirmation, exit codes 0/1/2/3/4, JSON, tables."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from contactvault.cli.client import unlock as client_unlock
from contactvault.client import StateStore, UnlockProgress
from tests.factories import Account, email_of, make_account, phone_of

from .conftest import CLI, LiveServer


def balance(live: LiveServer, account: Account) -> int:
    response = httpx.get(f"{live.base_url}/external/credits/balance", headers=account.headers, timeout=10)
    return int(response.json()["totalBalance"])


def test_unlock_with_yes_delivers_everyone_and_exits_0(connected: CLI, live: LiveServer, user: Account) -> None:
    body = connected.json("unlock", "--event", "100", "--ids", "1,2, 3", "--yes")
    assert (body["outcome"], body["exitCode"], body["status"]) == ("delivered", 0, "completed")
    assert body["estimate"]["count"] == 3
    assert body["estimate"]["credits"] == 45
    assert body["estimate"]["balanceAfter"] == 10_000 - 45
    assert [(c["personnelId"], c["email"]) for c in body["delivered"]] == [(str(i), email_of(i)) for i in (1, 2, 3)]
    assert body["delivered"][0]["verification"]["status"] == "valid"
    assert body["failed"] == []
    assert body["skipped"] == []
    assert body["reconciliation"] == {"before": 10_000, "after": 9_955, "charged": 45, "difference": 0, "ok": True}
    assert len(body["taskIds"]) == 1
    assert balance(live, user) == 9_955


def test_unlock_prints_estimate_summary_and_reconciliation_for_people(connected: CLI) -> None:
    result = connected("unlock", "--event", "100", "--ids", "1,2,3,10", "--yes")
    assert result.exit_code == 4, result.output
    assert "Estimate: unlock emails at event 100" in result.stderr
    assert "delivered" in result.stdout
    assert "failed: UNRESOLVED" in result.stdout
    assert email_of(1) in result.stdout
    assert "Credits: before 10,000, after 9,955, charged 45, difference 0 ok" in result.stdout
    assert result.stderr.rstrip().endswith(
        "error: partially delivered: 1 of 4 contacts was not delivered (not charged)"
    )


def test_partial_delivery_exits_4(connected: CLI) -> None:
    body = connected.json("unlock", "--event", "100", "--ids", "9,10,11", "--yes", code=4)
    assert body["outcome"] == "partial"
    assert body["failedByCode"] == {"UNRESOLVED": 1}
    assert body["failed"][0]["personnelId"] == "10"
    assert len(body["delivered"]) == 2
    assert body["reconciliation"]["charged"] == 30


def test_nobody_delivered_exits_1(connected: CLI) -> None:
    body = connected.json("unlock", "--event", "100", "--ids", "10,20", "--yes", code=1)
    assert body["outcome"] == "failed"
    assert body["reconciliation"]["charged"] == 0


def test_a_second_run_skips_the_unlocked_and_costs_nothing(connected: CLI, live: LiveServer, user: Account) -> None:
    connected.json("unlock", "--event", "100", "--ids", "1,2", "--yes")
    again = connected.json("unlock", "--event", "100", "--ids", "1,2", "--yes")
    assert (again["outcome"], again["status"]) == ("nothing_to_unlock", "nothing_to_unlock")
    assert {s["reason"] for s in again["skipped"]} == {"already_unlocked"}
    assert balance(live, user) == 10_000 - 30


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ids", "1"], "missing option '--event'"),
        (["--event", "100"], "exactly one of --ids, --from-file or --search (given: none)"),
        (["--event", "100", "--ids", "1", "--from-file", "x.csv"], "(given: --ids and --from-file)"),
        (["--event", "100", "--ids", "1", "--search", "VP"], "(given: --ids and --search)"),
        (["--event", "100", "--ids", "1,abc"], "--ids: not a personnel id: 'abc'"),
        (["--event", "1x", "--ids", "1"], "--event must be digits"),
        (["--event", "100", "--ids", "1", "--max-credits", "-1"], "--max-credits"),
    ],
)
def test_usage_errors_exit_2_before_anything_is_spent(
    connected: CLI, live: LiveServer, user: Account, state_file: Path, args: list[str], message: str
) -> None:
    result = connected("unlock", *args, "--yes")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert balance(live, user) == 10_000
    assert not state_file.exists()


def test_without_yes_and_without_a_terminal_it_refuses_with_exit_2(
    connected: CLI, live: LiveServer, user: Account, state_file: Path
) -> None:
    result = connected("unlock", "--event", "100", "--ids", "1,2,3")
    assert result.exit_code == 2
    assert "refusing to spend up to 45 credits without confirmation" in result.stderr
    assert "pass --yes" in result.stderr
    assert balance(live, user) == 10_000
    with StateStore(state_file) as store:
        assert store.list_runs() == []


def test_json_refusal_still_prints_the_estimate(connected: CLI) -> None:
    body = connected.json("unlock", "--event", "100", "--ids", "1,2,3", code=2)
    assert body["outcome"] == "not_confirmed"
    assert body["estimate"]["credits"] == 45


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend a person is at a terminal."""
    monkeypatch.setattr(client_unlock, "is_interactive", lambda: True)


@pytest.mark.usefixtures("terminal")
def test_at_a_terminal_it_asks_and_no_spends_nothing(connected: CLI, live: LiveServer, user: Account) -> None:
    result = connected("unlock", "--event", "100", "--ids", "1,2,3", input="n\n")
    assert result.exit_code == 1
    assert "Unlock 3 emails for up to 45 credits? [y/N]" in result.stderr
    assert "cancelled: nothing was spent" in result.stderr
    assert balance(live, user) == 10_000


@pytest.mark.usefixtures("terminal")
def test_at_a_terminal_yes_unlocks(connected: CLI, live: LiveServer, user: Account) -> None:
    result = connected("unlock", "--event", "100", "--ids", "1,2,3", input="y\n")
    assert result.exit_code == 0, result.output
    assert balance(live, user) == 10_000 - 45


def test_estimate_over_the_balance_exits_3_with_the_numbers(cli: CLI, live: LiveServer, state_file: Path) -> None:
    poor = make_account(live.rt, credit=100)
    ids = ",".join(str(i) for i in range(1, 26))
    result = cli(
        "unlock", "--event", "100", "--ids", ids, "--yes", "--base-url", live.base_url, "--api-key", poor.api_key
    )
    assert result.exit_code == 3
    assert (
        "insufficient credits: unlocking 25 emails costs 375 credits but the balance is 100 (short by 275); "
        "nothing was spent"
    ) in result.stderr
    assert balance(live, poor) == 100
    with StateStore(state_file) as store:
        assert store.list_runs() == []


def test_a_402_at_submission_exits_3_with_the_numbers(
    connected: CLI, live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The balance changes between the estimate and the submission (another client spends)."""
    account = make_account(live.rt, credit=400)
    monkeypatch.setenv("CONTACTVAULT_API_KEY", account.api_key)
    monkeypatch.setattr(client_unlock, "is_interactive", lambda: True)

    def spend_elsewhere_then_agree(question: str) -> bool:
        taken = httpx.post(
            f"{live.base_url}/external/contacts/unlock",
            json={"event_id": "100", "personnel_ids": ["101", "102", "103"]},
            headers=account.headers,
            timeout=10,
        )
        assert taken.status_code == 201
        return True

    monkeypatch.setattr(client_unlock, "default_ask", spend_elsewhere_then_agree)
    ids = ",".join(str(i) for i in range(1, 26))
    result = connected("unlock", "--event", "100", "--ids", ids)
    assert result.exit_code == 3, result.output
    assert "the server refused 25 contacts needing 375 credits (402); the balance is now 355" in result.stderr
    assert "skipped: insufficient_credits" in result.stdout


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "people.csv"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text",
    [
        "name,personnel_id\nAda,1\nBob,2\n\nCy,3\n",
        "id\n1\n2\n3\n",
        "1\n2\n3\n",
        "1,x\n2,y\n3,z\n",
        "who,what\n1,x\n2,y\n3,z\n",
        "\ufeffid,title\r\n1,VP\r\n2,VP\r\n3,VP\r\n",
    ],
    ids=["personnel_id-column", "id-column", "one-a-line", "first-column", "unknown-header", "bom-crlf"],
)
def test_from_file_reads_csv_or_one_id_a_line(connected: CLI, tmp_path: Path, text: str) -> None:
    body = connected.json("unlock", "--event", "100", "--from-file", _write(tmp_path, text), "--yes")
    assert [c["personnelId"] for c in body["delivered"]] == ["1", "2", "3"]


def test_from_file_reports_a_bad_id_with_its_line(connected: CLI, tmp_path: Path) -> None:
    result = connected("unlock", "--event", "100", "--from-file", _write(tmp_path, "id\n1\nabc\n"), "--yes")
    assert result.exit_code == 2
    assert "not a personnel id: 'abc' (line 3)" in result.stderr


def test_from_file_that_does_not_exist_exits_2(connected: CLI, tmp_path: Path) -> None:
    result = connected("unlock", "--event", "100", "--from-file", str(tmp_path / "nope.csv"), "--yes")
    assert result.exit_code == 2
    assert "cannot read --from-file" in result.stderr


def test_from_file_dash_reads_stdin(connected: CLI) -> None:
    body = connected.json("unlock", "--event", "100", "--from-file", "-", "--yes", input="4\n5\n")
    assert [c["personnelId"] for c in body["delivered"]] == ["4", "5"]


def test_search_selects_matching_people_of_the_event(connected: CLI) -> None:
    body = connected.json("unlock", "--event", "100", "--search", "VP", "--limit", "5", "--yes", code=4)
    assert body["estimate"]["personnelIds"] == ["5", "10", "15", "20", "25"]
    assert sorted(f["personnelId"] for f in body["failed"]) == ["10", "20"]


def test_search_without_matches_exits_1(connected: CLI) -> None:
    result = connected("unlock", "--event", "100", "--search", "Astronaut", "--yes")
    assert result.exit_code == 1
    assert "nobody at event 100 matches 'Astronaut'" in result.stderr


def test_phone_unlock_costs_150_each(connected: CLI, live: LiveServer, user: Account) -> None:
    body = connected.json("unlock", "--event", "100", "--ids", "3,6", "--phone", "--yes")
    assert body["channel"] == "phone"
    assert [(c["personnelId"], c["phone"]) for c in body["delivered"]] == [("3", phone_of(3)), ("6", phone_of(6))]
    assert body["reconciliation"]["charged"] == 300
    assert balance(live, user) == 10_000 - 300


def test_max_credits_caps_the_spend_and_reports_the_rest_as_partial(connected: CLI) -> None:
    body = connected.json("unlock", "--event", "100", "--ids", "1,2,3", "--max-credits", "30", "--yes", code=4)
    assert body["reconciliation"]["charged"] == 30
    assert body["failedByCode"] == {"CREDIT_CAP_REACHED": 1}


@pytest.mark.parametrize(
    ("args", "minimum"),
    [
        (["--phone", "--max-credits", "100"], "one phone number costs 150 credits"),
        (["--max-credits", "0"], "one email costs 15 credits"),
    ],
)
def test_a_cap_below_one_unit_is_a_usage_error(
    connected: CLI, live: LiveServer, user: Account, state_file: Path, args: list[str], minimum: str
) -> None:
    result = connected("unlock", "--event", "100", "--ids", "3,6", *args, "--yes")
    assert result.exit_code == 2, result.output
    assert f"nothing could be unlocked: {minimum}" in result.stderr.replace("\n", " ")
    assert "Estimate" not in result.stderr
    assert balance(live, user) == 10_000
    assert not state_file.exists()


def test_unknown_event_exits_1_before_anything_is_spent(connected: CLI, state_file: Path) -> None:
    result = connected("unlock", "--event", "999", "--ids", "1", "--yes")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [errors[0]]
    assert "Event 999 not found" in errors[0]
    assert "Traceback" not in result.output


def test_errors_never_show_the_key_or_an_address(connected: CLI, user: Account) -> None:
    result = connected("unlock", "--event", "100", "--ids", "1,10", "--yes")
    assert result.exit_code == 4
    assert user.api_key not in result.output
    assert "@" not in result.stderr


@pytest.mark.parametrize(
    "ids",
    [
        ["--ids", "1", "2", "3"],
        ["--ids", "1 2 3"],
        ["--ids", "1,2", "--ids", "3"],
        ["--ids", "1", "2,3"],
        ["1", "2", "3"],
    ],
    ids=" ".join,
)
def test_ids_take_commas_spaces_several_values_or_repeats(connected: CLI, ids: list[str]) -> None:
    body = connected.json("unlock", "--event", "100", *ids, "--yes")
    assert body["estimate"]["personnelIds"] == ["1", "2", "3"]
    assert body["outcome"] == "delivered"


def test_wording_for_one_person_and_for_nothing_to_unlock(connected: CLI) -> None:
    connected.json("unlock", "--event", "100", "--ids", "4", "--yes")
    again = connected("unlock", "--event", "100", "--ids", "4", "--yes")
    assert again.exit_code == 0, again.output
    assert "Nothing to unlock: the one person was skipped, nothing was spent." in again.stdout
    assert "Credits: nothing was submitted, so nothing was charged." in again.stdout
    assert "not reconciled" not in again.stdout
    assert "1 people" not in again.output


def test_one_failure_is_singular(connected: CLI) -> None:
    result = connected("unlock", "--event", "100", "--ids", "5,20", "--yes")
    assert result.exit_code == 4, result.output
    assert "Looking up 2 people" in result.stderr
    assert result.stderr.rstrip().endswith(
        "error: partially delivered: 1 of 2 contacts was not delivered (not charged)"
    )


@pytest.mark.usefixtures("terminal")
def test_ctrl_c_at_the_prompt_is_an_error_line_and_130(connected: CLI, live: LiveServer, user: Account) -> None:
    # End of input takes click's Ctrl-C path at a prompt (both become click's Abort).
    result = connected("unlock", "--event", "100", "--ids", "1,2,3", input="")
    assert result.exit_code == 130, result.output
    assert "Aborted" not in result.output
    assert result.stderr.strip().splitlines()[-1] == (
        "error: interrupted before anything was submitted; nothing was spent"
    )
    assert balance(live, user) == 10_000


def stop_after_the_first_submission(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """Raise ``error`` from the progress bar once a batch has been submitted (as Ctrl-C would arrive)."""
    original = client_unlock.ProgressBar.__call__

    def interrupt(self: client_unlock.ProgressBar, event: UnlockProgress) -> None:
        original(self, event)
        if event.stage == "submitted":
            raise error

    monkeypatch.setattr(client_unlock.ProgressBar, "__call__", interrupt)


def test_an_interrupted_json_run_prints_what_it_knows_and_resumes(
    connected: CLI, live: LiveServer, user: Account, state_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = client_unlock.ProgressBar.__call__
    stop_after_the_first_submission(monkeypatch, KeyboardInterrupt())
    result = connected("unlock", "--event", "100", "--ids", "1,2,3", "--yes", "--json")
    assert result.exit_code == 130
    body = json.loads(result.stdout)
    run_id = body["runId"]
    assert (body["outcome"], body["exitCode"], body["status"]) == ("interrupted", 130, "running")
    assert len(body["taskIds"]) == 1
    assert body["resume"] == f"contactvault tasks resume --run {run_id} --state-file {state_file}"
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: interrupted; run {run_id} is saved: continue it with "
        f"`contactvault tasks resume --run {run_id} --state-file {state_file}` (nobody is charged twice)"
    )
    monkeypatch.setattr(client_unlock.ProgressBar, "__call__", original)
    resumed = connected.json("tasks", "resume", "--run", run_id, "--yes")
    assert [len(r["delivered"]) for r in resumed["runs"]] == [3]
    assert balance(live, user) == 10_000 - 45


def test_a_lost_connection_mid_run_says_how_to_resume(
    connected: CLI, state_file: Path, monkeypatch: pytest.MonkeyPatch, no_backoff: None
) -> None:
    real = httpx.HTTPTransport.handle_request

    def cut_polls(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        if "unlock-tasks" in request.url.path:
            raise httpx.ConnectError("connection refused", request=request)
        return real(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", cut_polls)
    result = connected("unlock", "--event", "100", "--ids", "1,2", "--yes")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert "server not reachable, retrying (2/4)…" in lines
    with StateStore(state_file) as store:
        (run,) = store.list_runs()
    last = lines[-1]
    assert last.startswith("error: lost the connection to http://127.0.0.1:")
    assert last.endswith(
        f"run {run.run_id} is saved: continue it with "
        f"`contactvault tasks resume --run {run.run_id} --state-file {state_file}` (nobody is charged twice)"
    )
