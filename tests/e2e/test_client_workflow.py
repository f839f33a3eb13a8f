"""The client workflow end to end: the real ``contactvault`` CLI (a subprocess) against a real server on loopback.

Covers the whole workflow (estimate, unlock 25, export each delivered contact once), a CLI killed (SIGKILL, or
an exit at an exact crash point) right after a task was created and then resumed without a second task or
charge, insufficient credits, and a storm of 429s.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from contactvault.client import Client, StateStore
from contactvault.server.config import Settings
from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from tests.e2e import processes
from tests.engine import assert_reconciles, balance
from tests.factories import Account, email_of, make_account

pytestmark = pytest.mark.slow

# 150 people of event 100 make two batches (100 + 50); every 10th has no email, so 135 are delivered.
PEOPLE = [str(i) for i in range(1, 151)]
DELIVERABLE = [p for p in PEOPLE if int(p) % 10]


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
    """What a server or worker process needs to share the test's database."""
    assert settings.encryption_key_file is not None
    return processes.env_for(settings.database_url, settings.encryption_key_file, **extra)


def client_env(base_url: str, account: Account, tmp_path: Path, **extra: str) -> dict[str, str]:
    """A CLI user's environment: the server and key, private config and data directories."""
    env = processes.env_for("sqlite:///unused.db", tmp_path / "unused-keys.json", **extra)
    env.update(
        {
            "CONTACTVAULT_BASE_URL": base_url,
            "CONTACTVAULT_API_KEY": account.api_key,
            "CONTACTVAULT_CONFIG": str(tmp_path / "config.toml"),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
            "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
            "COLUMNS": "200",
        }
    )
    env.pop("LENSMOR_API_KEY", None)
    return env


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``contactvault ARGS`` to the end."""
    return subprocess.run(
        [*processes.CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def tasks_of(rt: Runtime, account: Account) -> list[int]:
    """The ids of the account's tasks, oldest first."""
    with rt.db.read() as conn:
        query = select(tables.tasks.c.id).where(tables.tasks.c.account_id == account.id)
        return list(conn.execute(query.order_by(tables.tasks.c.created_at)).scalars())


def unlocks_of(rt: Runtime, account: Account) -> int:
    """How many unlocks (person x channel) the account owns."""
    with rt.db.read() as conn:
        query = select(func.count()).select_from(tables.unlocks).where(tables.unlocks.c.account_id == account.id)
        return int(conn.execute(query).scalar_one())


def exported(env: dict[str, str], state_file: Path, target: Path) -> list[dict[str, str]]:
    """Export the state file's email contacts as CSV and read them back."""
    done = cli(env, "export", "--state-file", str(state_file), "--output", str(target), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["path"] == str(target)
    return list(csv.DictReader(io.StringIO(target.read_text())))


def recorded_task_ids(state_file: Path) -> list[str | None]:
    """Task ids per batch as the CLI stored them, read without taking a write lock (it may be running)."""
    if not state_file.exists():
        return []
    conn = sqlite3.connect(f"file:{state_file}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT task_id FROM batches ORDER BY seq")]
    except sqlite3.OperationalError:  # no tables yet, or locked for a moment
        return []
    finally:
        conn.close()


def first_task_recorded(state_file: Path) -> bool:
    """True once the CLI stored the task id of its first batch."""
    ids = recorded_task_ids(state_file)
    return bool(ids) and ids[0] is not None


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    """The CLI's state file for this test."""
    return tmp_path / "state.db"


def test_full_workflow_estimate_unlock_25_and_export_each_contact_once(
    directory: Runtime, account: Account, settings: Settings, tmp_path: Path, state_file: Path
) -> None:
    ids = ",".join(DELIVERABLE[:25])
    with processes.server(server_env(settings)) as base:
        env = client_env(base, account, tmp_path)
        assert json.loads(cli(env, "credits", "--json").stdout)["totalBalance"] == 10_000
        vps = json.loads(cli(env, "people", "list", "--event", "100", "--search", "VP", "--json").stdout)
        assert vps["total"] == 60

        # The estimate, shown and refused: a script without --yes and without a terminal spends nothing.
        refused = cli(env, "unlock", "--event", "100", "--ids", ids, "--state-file", str(state_file), "--json")
        assert refused.returncode == 2
        estimate = json.loads(refused.stdout)["estimate"]
        assert (estimate["count"], estimate["credits"], estimate["balance"], estimate["balanceAfter"]) == (
            25,
            375,
            10_000,
            9_625,
        )
        assert "pass --yes" in refused.stderr
        assert tasks_of(directory, account) == []

        done = cli(env, "unlock", "--event", "100", "--ids", ids, "--yes", "--state-file", str(state_file), "--json")
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert (result["outcome"], len(result["delivered"])) == ("delivered", 25)
        reconciliation = {"before": 10_000, "after": 9_625, "charged": 375, "difference": 0, "ok": True}
        assert result["reconciliation"] == reconciliation

        # The same people again: nothing to unlock, nothing charged.
        again = cli(env, "unlock", "--event", "100", "--ids", ids, "--yes", "--state-file", str(state_file), "--json")
        assert again.returncode == 0
        assert json.loads(again.stdout)["outcome"] == "nothing_to_unlock"

        rows = exported(env, state_file, tmp_path / "contacts.csv")
    assert sorted((row["personnel_id"] for row in rows), key=int) == DELIVERABLE[:25]  # each exactly once
    assert all(row["email"] == email_of(int(row["personnel_id"])) for row in rows)
    assert all(row["full_name"] and row["verification_status"] == "valid" for row in rows)
    assert len(tasks_of(directory, account)) == 1
    assert balance(directory, account) == 10_000 - 375
    assert_reconciles(directory)


def _resume_and_check(
    directory: Runtime, account: Account, env: dict[str, str], state_file: Path, tmp_path: Path
) -> dict[str, Any]:
    """Resume the interrupted run; check one task per batch, 15 credits per delivered contact, export once."""
    resumed = cli(env, "tasks", "resume", "--state-file", str(state_file), "--yes", "--json")
    assert resumed.returncode == 4, resumed.stderr  # 15 people have no email: partially delivered
    (run,) = json.loads(resumed.stdout)["runs"]
    assert run["status"] == "completed"
    assert sorted(c["personnelId"] for c in run["delivered"]) == sorted(DELIVERABLE)
    assert run["failedByCode"] == {"UNRESOLVED": 15}
    assert run["reconciliation"]["ok"]
    assert len(tasks_of(directory, account)) == 2  # one per batch: the interrupted one was not created again
    assert unlocks_of(directory, account) == len(DELIVERABLE)
    assert balance(directory, account) == 10_000 - 15 * len(DELIVERABLE)
    rows = exported(env, state_file, tmp_path / "resumed.csv")
    assert sorted(row["personnel_id"] for row in rows) == sorted(DELIVERABLE)
    assert len({row["email"] for row in rows}) == len(DELIVERABLE)
    assert_reconciles(directory)
    return run


def test_sigkill_after_the_task_id_was_recorded_then_resume(
    directory: Runtime, account: Account, settings: Settings, tmp_path: Path, state_file: Path
) -> None:
    # No worker yet: the first task stays pending, so the CLI is certainly waiting on it when it is killed.
    with processes.server(server_env(settings), "--no-worker") as base:
        env = client_env(base, account, tmp_path)
        args = ["unlock", "--event", "100", "--ids", ",".join(PEOPLE), "--yes", "--state-file", str(state_file)]
        proc = subprocess.Popen([*processes.CLI, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            processes.wait_until(lambda: first_task_recorded(state_file))
            proc.kill()
            assert proc.wait(timeout=10) == -9
        finally:
            processes.stop(proc)
        first, second = recorded_task_ids(state_file)
        assert first is not None
        assert second is None
        assert tasks_of(directory, account) == [int(first)]

        worker = processes.worker(server_env(settings))
        try:
            run = _resume_and_check(directory, account, env, state_file, tmp_path)
        finally:
            processes.stop(worker)
    assert run["taskIds"][0] == first


def test_crash_between_submission_and_recording_resubmits_under_the_same_key(
    directory: Runtime, account: Account, settings: Settings, tmp_path: Path, state_file: Path
) -> None:
    """The worst moment: the server created the task, the CLI died before writing its id down."""
    with processes.server(server_env(settings)) as base:
        env = client_env(base, account, tmp_path)
        crash = client_env(base, account, tmp_path, CONTACTVAULT_CLIENT_FAULT="after_submit")
        args = ["unlock", "--event", "100", "--ids", ",".join(PEOPLE), "--yes", "--state-file", str(state_file)]
        assert cli(crash, *args).returncode == 137
        assert recorded_task_ids(state_file) == [None, None]
        (created,) = tasks_of(directory, account)

        run = _resume_and_check(directory, account, env, state_file, tmp_path)
    # The re-submission was answered from the server's idempotency record: the same task, not a new one.
    assert run["taskIds"][0] == str(created)


def test_insufficient_credits_exit_3_with_the_numbers(
    directory: Runtime, settings: Settings, tmp_path: Path, state_file: Path
) -> None:
    poor = make_account(directory, credit=100, name="poor")
    with processes.server(server_env(settings)) as base:
        env = client_env(base, poor, tmp_path)
        ids = ",".join(DELIVERABLE[:25])
        done = cli(env, "unlock", "--event", "100", "--ids", ids, "--yes", "--state-file", str(state_file))
    assert done.returncode == 3
    assert done.stderr.strip().splitlines()[-1] == (
        "error: insufficient credits: unlocking 25 emails costs 375 credits but the balance is 100 (short by 275); "
        "nothing was spent"
    )
    assert "Traceback" not in done.stderr
    assert poor.api_key not in done.stdout + done.stderr
    assert tasks_of(directory, poor) == []
    assert balance(directory, poor) == 100


class RateLimitStorm(httpx.BaseTransport):
    """In front of a real server: every request is first refused with 429 ``burst`` times, then let through.

    A 429 creates nothing on the server (contract §1), so refusing before forwarding is exactly what a rate
    limiter does. ``Retry-After: 0`` keeps the test from sleeping while exercising the same retry path.
    """

    def __init__(self, inner: httpx.BaseTransport, burst: int) -> None:
        self.inner = inner
        self.burst = burst
        self.refused = 0
        self.forwarded: list[httpx.Request] = []
        self._streak = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Refuse ``burst`` times in a row, then forward one request."""
        if self._streak < self.burst:
            self._streak += 1
            self.refused += 1
            body = {"code": 429, "message": "Too many requests.", "errorKey": "RATE_LIMIT_EXCEEDED", "traceId": "t"}
            return httpx.Response(429, json=body, headers={"Retry-After": "0"}, request=request)
        self._streak = 0
        self.forwarded.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        """Close the real transport."""
        self.inner.close()


@pytest.fixture
def storm() -> Iterator[RateLimitStorm]:
    """Three 429s before every request reaches the server."""
    transport = RateLimitStorm(httpx.HTTPTransport(), burst=3)
    yield transport
    transport.close()


def test_a_429_storm_is_survived_without_a_second_task_or_charge(
    directory: Runtime, account: Account, settings: Settings, state_file: Path, storm: RateLimitStorm
) -> None:
    with (
        processes.server(server_env(settings)) as base,
        Client(account.api_key, base_url=base, transport=storm, max_attempts=4) as client,
    ):
        result = client.unlock_emails("100", PEOPLE, state_file=state_file)
    assert result.status == "completed"
    assert sorted(c.personnel_id for c in result.delivered) == sorted(DELIVERABLE)
    assert result.reconciliation is not None
    assert result.reconciliation.ok
    assert storm.refused == 3 * len(storm.forwarded)
    submissions = [r for r in storm.forwarded if r.url.path == "/external/contacts/unlock"]
    assert len(submissions) == 2
    assert len(tasks_of(directory, account)) == 2
    assert balance(directory, account) == 10_000 - 15 * len(DELIVERABLE)
    with StateStore(state_file) as store:
        assert len(store.delivered_contacts()) == len(DELIVERABLE)
    assert_reconciles(directory)


def exhaust_the_window(base: str, account: Account) -> None:
    """Spend the key's budget so that the current window is used up with more than 1 s of it left.

    The limiter counts in fixed windows aligned to the clock; a run started at a random moment could spread its
    requests over two windows and never be refused. Started here, its first request meets a 429 for certain.
    """

    def used_up_with_time_left() -> bool:
        response = httpx.get(f"{base}/external/credits/balance", headers=account.headers, timeout=5)
        # Retry-After is the window's remaining time rounded up: 2 or more means over 1 s left.
        return response.status_code == 429 and int(response.headers["Retry-After"]) >= 2

    processes.wait_until(used_up_with_time_left, timeout=30, interval=0.01)


# The limiter keeps its counts in memory whatever the database, so this runs on one backend only.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_real_rate_limited_server_is_survived(
    directory: Runtime, account: Account, settings: Settings, state_file: Path
) -> None:
    """The server's own limiter (5 requests per 3 s window) refuses part of a run; it still completes."""
    statuses: list[int] = []
    hooks = {"response": [lambda response: statuses.append(response.status_code)]}
    env = server_env(settings, CONTACTVAULT_RATE_LIMIT_PER_KEY="5", CONTACTVAULT_RATE_LIMIT_WINDOW_SECONDS="3")
    with (
        processes.server(env) as base,
        httpx.Client(event_hooks=hooks) as http,
        Client(account.api_key, base_url=base, http_client=http) as client,
    ):
        exhaust_the_window(base, account)
        result = client.unlock_emails("100", ["1", "2", "3", "10"], state_file=state_file)
    assert statuses[0] == 429  # the limiter refused the run's first request...
    assert result.status == "completed"  # ...and the run went on after Retry-After
    assert sorted(c.personnel_id for c in result.delivered) == ["1", "2", "3"]
    assert result.reconciliation is not None
    assert result.reconciliation.ok
    assert len(tasks_of(directory, account)) == 1
    assert balance(directory, account) == 10_000 - 45
    assert_reconciles(directory)
