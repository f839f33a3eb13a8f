"""``tasks show``, ``tasks list`` and ``tasks resume``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from contactvault.cli.client import tasks as client_tasks
from contactvault.cli.client import unlock as client_unlock
from contactvault.client import Client, StateStore, UnlockProgress
from contactvault.server.db import tables
from tests.factories import Account, email_of, phone_of

from .conftest import CLI, LiveServer


class Interrupted(BaseException):
    """Stands for Ctrl-C or a crash right after the first submission was answered and recorded."""


def interrupted_run(live: LiveServer, user: Account, state_file: Path, ids: list[str]) -> str:
    """Start an unlock that stops right after its first task id is stored; return the run id."""

    def stop(progress: UnlockProgress) -> None:
        if progress.stage == "submitted":
            raise Interrupted

    with Client(user.api_key, base_url=live.base_url) as client, pytest.raises(Interrupted):
        client.unlock_emails("100", ids, state_file=state_file, on_progress=stop)
    with StateStore(state_file) as store:
        (run,) = store.unfinished_runs()
        return run.run_id


def tasks_of(live: LiveServer, user: Account) -> int:
    with live.rt.db.read() as conn:
        query = select(func.count()).select_from(tables.tasks).where(tables.tasks.c.account_id == user.id)
        return int(conn.execute(query).scalar_one())


def test_tasks_show_json_table_and_watch(connected: CLI) -> None:
    (task_id,) = connected.json("unlock", "--event", "100", "--ids", "1,10", "--yes", code=4)["taskIds"]
    task = connected.json("tasks", "show", task_id)
    assert task["taskId"] == task_id
    assert task["taskStatus"] == "completed"
    assert [(i["personnelId"], i["status"]) for i in task["items"]] == [("1", "unlocked"), ("10", "failed")]
    assert task["items"][0]["email"] == email_of(1)
    watched = connected.json("tasks", "show", task_id, "--watch")
    assert watched["taskStatus"] == "completed"
    table = connected("tasks", "show", task_id, "--watch")
    assert table.exit_code == 0
    assert f"Task {task_id}: completed" in table.stdout
    assert "UNRESOLVED" in table.stdout
    assert email_of(1) in table.stdout


def test_tasks_show_phone_task(connected: CLI) -> None:
    (task_id,) = connected.json("unlock", "--event", "100", "--ids", "3", "--phone", "--yes")["taskIds"]
    task = connected.json("tasks", "show", task_id, "--phone")
    assert task["items"][0]["phone"] == phone_of(3)


def test_tasks_show_finds_a_phone_task_without_phone_and_says_so(connected: CLI) -> None:
    (task_id,) = connected.json("unlock", "--event", "100", "--ids", "3", "--phone", "--yes")["taskIds"]
    result = connected("tasks", "show", task_id, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["items"][0]["phone"] == phone_of(3)
    assert f"Task {task_id} is a phone unlock task (add --phone to ask for it directly)." in result.stderr.replace(
        "\n", " "
    )
    table = connected("tasks", "show", task_id, "--watch")
    assert table.exit_code == 0
    assert phone_of(3) in table.stdout


def test_tasks_show_finds_an_email_task_with_phone(connected: CLI) -> None:
    (task_id,) = connected.json("unlock", "--event", "100", "--ids", "1", "--yes")["taskIds"]
    result = connected("tasks", "show", task_id, "--phone", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["items"][0]["email"] == email_of(1)
    assert "is an email unlock task (drop --phone" in result.stderr.replace("\n", " ")


def test_the_unlock_summary_names_phone_tasks(connected: CLI) -> None:
    result = connected("unlock", "--event", "100", "--ids", "3", "--phone", "--yes")
    assert result.exit_code == 0, result.output
    (task_id,) = connected.json("tasks", "list")["runs"][0]["taskIds"]
    assert f"phone tasks {task_id}" in result.stdout.replace("\n", " ")


def test_tasks_show_watch_waits_for_the_task_of_an_interrupted_run(
    connected: CLI, live: LiveServer, user: Account, state_file: Path
) -> None:
    interrupted_run(live, user, state_file, [str(i) for i in range(1, 51)])
    with StateStore(state_file) as store:
        (run,) = store.list_runs()
        (batch,) = store.batches(run.run_id)
    assert batch.task_id is not None
    task = connected.json("tasks", "show", batch.task_id, "--watch")
    assert task["taskStatus"] == "completed"
    assert task["counts"] == {"pending": 0, "processing": 0, "unlocked": 45, "failed": 5}


@pytest.mark.parametrize(("task_id", "code"), [("123456789", 1), ("abc", 2)])
def test_tasks_show_unknown_or_malformed_id(connected: CLI, task_id: str, code: int) -> None:
    result = connected("tasks", "show", task_id)
    assert result.exit_code == code
    assert result.stderr.startswith("error: ")


def test_an_unknown_task_is_looked_for_on_both_channels(connected: CLI) -> None:
    result = connected("tasks", "show", "123456789")
    assert result.stderr.strip() == "error: not found: no email or phone unlock task 123456789 for this API key"


def test_tasks_list_without_a_state_file(cli: CLI, state_file: Path) -> None:
    result = cli("tasks", "list")
    assert result.exit_code == 0
    assert f"No unlock runs in {state_file}" in result.stdout.replace("\n", "")
    assert cli.json("tasks", "list")["runs"] == []
    assert not state_file.exists()


def test_tasks_list_shows_finished_and_unfinished_runs(
    connected: CLI, live: LiveServer, user: Account, state_file: Path
) -> None:
    finished = connected.json("unlock", "--event", "100", "--ids", "1,2", "--yes")["runId"]
    unfinished = interrupted_run(live, user, state_file, ["3", "4"])
    body = connected.json("tasks", "list")
    assert [(r["runId"], r["status"]) for r in body["runs"]] == [(unfinished, "running"), (finished, "completed")]
    assert body["runs"][1]["reconciliation"]["charged"] == 30
    assert body["runs"][0]["baseUrl"] == live.base_url
    table = connected("tasks", "list")
    assert finished in table.stdout
    assert unfinished in table.stdout
    assert "1 unfinished: `contactvault tasks resume` continues them." in table.stdout


def test_tasks_resume_finishes_an_interrupted_run_without_a_second_task(
    connected: CLI, live: LiveServer, user: Account, state_file: Path
) -> None:
    ids = [str(i) for i in range(1, 151)]  # two batches: the first submitted, the second not yet
    run_id = interrupted_run(live, user, state_file, ids)
    assert tasks_of(live, user) == 1
    # The unsent batch would spend: a script must say --yes.
    refused = connected("tasks", "resume")
    assert refused.exit_code == 2
    assert "refusing to submit 50 people (up to 750 credits) without confirmation" in refused.stderr
    assert tasks_of(live, user) == 1
    body = connected.json("tasks", "resume", "--yes", code=4)
    (run,) = body["runs"]
    assert run["runId"] == run_id
    assert (run["status"], run["outcome"]) == ("completed", "partial")
    assert len(run["delivered"]) == 135
    assert run["failedByCode"] == {"UNRESOLVED": 15}
    charged = 135 * 15
    assert run["reconciliation"] == {
        "before": 10_000,
        "after": 10_000 - charged,
        "charged": charged,
        "difference": 0,
        "ok": True,
    }
    assert tasks_of(live, user) == 2
    # Nothing left to do: a second resume is a no-op.
    again = connected.json("tasks", "resume")
    assert (again["runs"], again["outcome"]) == ([], "nothing_to_resume")
    assert tasks_of(live, user) == 2


def test_tasks_resume_prints_a_summary_for_people(
    connected: CLI, live: LiveServer, user: Account, state_file: Path
) -> None:
    interrupted_run(live, user, state_file, ["1", "2"])
    result = connected("tasks", "resume")
    assert result.exit_code == 0, result.output
    assert "Resuming 1 run from" in result.stderr
    assert "Credits: before 10,000, after 9,970, charged 30, difference 0 ok" in result.stdout


def test_tasks_resume_leaves_runs_of_other_servers_alone(
    connected: CLI, live: LiveServer, user: Account, state_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupted_run(live, user, state_file, ["1"])
    other = live.base_url.replace("127.0.0.1", "localhost")
    monkeypatch.setenv("CONTACTVAULT_BASE_URL", other)
    result = connected("tasks", "resume")
    assert result.exit_code == 0
    assert f"Unfinished runs for {live.base_url} were left alone" in result.stderr.replace("\n", " ")


def test_tasks_resume_without_a_state_file(connected: CLI) -> None:
    result = connected("tasks", "resume")
    assert result.exit_code == 0
    assert "nothing to resume" in result.stdout.lower()


def test_tasks_resume_at_a_terminal_asks_before_submitting(
    connected: CLI, live: LiveServer, user: Account, state_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupted_run(live, user, state_file, [str(i) for i in range(1, 111)])
    monkeypatch.setattr(client_tasks, "is_interactive", lambda: True)
    declined = connected("tasks", "resume", input="n\n")
    assert declined.exit_code == 1
    assert "Submit 10 people not yet submitted, for up to 150 credits? [y/N]" in declined.stderr
    assert tasks_of(live, user) == 1
    accepted = connected("tasks", "resume", input="y\n")
    assert accepted.exit_code == 4, accepted.output  # 10, 20, ... 110 have no email
    assert tasks_of(live, user) == 2


def test_an_interrupted_resume_says_how_to_go_on(
    connected: CLI, live: LiveServer, user: Account, state_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = interrupted_run(live, user, state_file, ["1", "2"])
    original = client_unlock.ProgressBar.__call__

    def interrupt(self: client_unlock.ProgressBar, event: UnlockProgress) -> None:
        original(self, event)
        if event.stage == "started":
            raise KeyboardInterrupt

    monkeypatch.setattr(client_unlock.ProgressBar, "__call__", interrupt)
    result = connected("tasks", "resume", "--run", run_id, "--yes")
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: interrupted; the runs are saved: continue with "
        f"`contactvault tasks resume --run {run_id} --state-file {state_file}` (nobody is charged twice)"
    )
    monkeypatch.setattr(client_unlock.ProgressBar, "__call__", original)
    assert connected.json("tasks", "resume", "--run", run_id, "--yes")["outcome"] == "delivered"
