"""``contactvault serve --workers 2`` for real, on each backend: two server processes on one loopback port.

Clients submit overlapping batches and long-poll them while a key is revoked: no 5xx, nobody charged twice, the
ledger reconciles, and the revoked key is refused by each process (told apart by ``X-Contactvault-Process``) on
every request after the revocation. SIGTERM to the parent stops it and every child (no orphans).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from contactvault.cli.admin.supervisor import PROCESS_HEADER
from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts
from contactvault.server.services.reconcile import reconcile
from tests.e2e import processes
from tests.engine import balance
from tests.factories import BIG_EVENT, Account, make_account, make_directory

pytestmark = pytest.mark.slow

CREDIT = 100_000
BATCH, STEP, BATCHES = 20, 10, 6  # each batch shares 10 people with the one before
START_SECONDS = 60  # spawned interpreters import the whole server: slow on a loaded machine
BALANCE = "/external/credits/balance"


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """The test's own view of the database (a real clock, as the servers have)."""
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.db.dispose()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def _reach_each(base: str, path: str, deadline: float, headers: dict[str, str] | None = None) -> list[tuple[int, str]]:
    """Ask ``path`` on new connections until both processes answered; every (status, process) seen on the way.

    SO_REUSEPORT spreads connections by their address hash, so a few new connections reach both processes.
    """
    answers: list[tuple[int, str]] = []
    while {index for _, index in answers} != {"0", "1"}:
        assert time.monotonic() < deadline, f"not both processes reached: {answers[-5:]}"
        try:
            answer = httpx.get(base + path, headers=headers, timeout=15)
        except httpx.TransportError:
            continue  # a process is still starting
        answers.append((answer.status_code, answer.headers[PROCESS_HEADER]))
    return answers


class Traffic:
    """Clients that submit and long-poll through both processes, recording every status."""

    def __init__(self, base: str, account: Account) -> None:
        self.base, self.account = base, account
        self.statuses: list[int] = []
        self.finals: list[str] = []
        self.tasks = 0  # submissions that made a task (one whose people were all taken already makes none)

    def run(self, first: int) -> None:
        with httpx.Client(base_url=self.base, timeout=30, headers=self.account.headers) as client:
            for n in range(BATCHES):
                ids = [str(first + n * STEP + k) for k in range(BATCH)]
                body = {"event_id": str(BIG_EVENT), "personnel_ids": ids}
                answer = client.post(
                    "/external/contacts/unlock", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
                )
                self.statuses.append(answer.status_code)
                task_id = answer.json().get("task_id")
                self.tasks += task_id is not None
                while task_id is not None:
                    poll = client.get(f"/external/contacts/unlock-tasks/{task_id}", params={"wait": 10})
                    self.statuses.append(poll.status_code)
                    if poll.status_code != 200 or poll.json()["taskStatus"] in ("completed", "failed"):
                        self.finals.append(poll.json().get("taskStatus", "?"))
                        break


def test_two_processes_share_the_work_the_limits_and_a_revocation(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    rt = runtime
    make_directory(rt, people=BATCHES * STEP + BATCH + 40)
    payer, doomed = make_account(rt, CREDIT), make_account(rt, CREDIT, name="doomed")
    assert settings.encryption_key_file is not None
    env = processes.env_for(
        settings.database_url, settings.encryption_key_file, CONTACTVAULT_RATE_LIMIT_PER_KEY="100000"
    )
    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:  # a file, not a pipe: nobody reads a pipe while the test runs, and it could fill
        parent = subprocess.Popen(
            [*processes.CLI, "serve", "--workers", "2", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        _reach_each(base, "/healthz", time.monotonic() + START_SECONDS)
        before = _reach_each(base, BALANCE, time.monotonic() + 30, doomed.headers)
        children = _children(parent.pid)
        assert len([c for c in children if _alive(c)]) >= 2  # two servers (and multiprocessing's tracker)

        traffic = Traffic(base, payer)
        clients = [threading.Thread(target=traffic.run, args=(1 + 5 * k,)) for k in range(3)]
        for client in clients:
            client.start()
        accounts.revoke_key(rt, doomed.key_id)
        after = _reach_each(base, BALANCE, time.monotonic() + 30, doomed.headers)
        for client in clients:
            client.join(timeout=120)
    finally:
        parent.send_signal(signal.SIGTERM)
        try:
            parent.wait(60)
        finally:
            if parent.poll() is None:
                parent.kill()
    assert parent.returncode == 0, log.read_text()
    # The servers were joined before the parent exited; multiprocessing's tracker leaves when it reads the EOF.
    processes.wait_until(lambda: not [c for c in children if _alive(c)], timeout=10)
    assert not any(c.is_alive() for c in clients)
    # The revoked key: accepted by each process before, refused by each on the very next request and every one after.
    assert {status for status, _ in before} == {200}
    assert {status for status, _ in after} == {401}
    assert traffic.statuses, "no traffic"
    assert all(s < 500 for s in traffic.statuses), traffic.statuses
    assert "Traceback" not in log.read_text()
    assert set(traffic.finals) == {"completed"}
    assert len(traffic.finals) == traffic.tasks >= BATCHES
    _assert_charged_once(rt, payer)


def _assert_charged_once(rt: Runtime, account: Account) -> None:
    with rt.db.read() as conn:
        charged = conn.execute(
            select(tables.task_items.c.personnel_id, func.count())
            .where(tables.task_items.c.credits_charged > 0)
            .group_by(tables.task_items.c.personnel_id)
        ).all()
        unlocked = conn.execute(select(func.count()).select_from(tables.unlocks)).scalar_one()
    assert charged
    assert all(n == 1 for _, n in charged), "someone was charged twice"
    assert balance(rt, account) == CREDIT - 15 * unlocked
    result = reconcile(rt)
    assert result.ok, result.problems


def test_workers_above_one_refuse_an_in_memory_database(tmp_path: Path) -> None:
    env = processes.env_for("sqlite://", tmp_path / "keys.json")
    done = subprocess.run(
        [*processes.CLI, "serve", "--workers", "2", "--port", str(processes.free_port())],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert b"--workers N needs a database every process shares" in done.stderr
    assert os.environ.get("CONTACTVAULT_SERVE_WORKERS") is None  # nothing leaked into the test's environment


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_no_child_outlives_its_parent(tmp_path: Path, sig: signal.Signals) -> None:
    env = processes.env_for(f"sqlite:///{tmp_path}/cv.db", tmp_path / "keys.json")
    port = processes.free_port()
    with (tmp_path / "serve.log").open("wb") as out:
        parent = subprocess.Popen(
            [*processes.CLI, "serve", "--workers", "2", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        _reach_each(f"http://127.0.0.1:{port}", "/healthz", time.monotonic() + START_SECONDS)
        children = _children(parent.pid)
        parent.send_signal(sig)
        parent.wait(60)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    # SIGINT: the parent stops its children and exits 0. SIGKILL: each child is told by the kernel and stops.
    assert parent.returncode == (0 if sig == signal.SIGINT else -signal.SIGKILL)
    processes.wait_until(lambda: not [c for c in children if _alive(c)], timeout=60)


def test_the_processes_count_one_rate_limit_between_them(directory: Runtime, account: Account) -> None:
    settings = directory.settings
    assert settings.encryption_key_file is not None
    env = processes.env_for(
        settings.database_url,
        settings.encryption_key_file,
        CONTACTVAULT_RATE_LIMIT_PER_KEY="4",
        CONTACTVAULT_RATE_LIMIT_PER_IP="0",
    )
    port = processes.free_port()
    with (Path(str(settings.encryption_key_file)).parent / "serve.log").open("wb") as out:
        parent = subprocess.Popen(
            [*processes.CLI, "serve", "--workers", "2", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _reach_each(base, "/healthz", time.monotonic() + START_SECONDS)
        answers = _reach_each(base, BALANCE, time.monotonic() + 30, account.headers)
        answers += _reach_each(base, BALANCE, time.monotonic() + 30, account.headers)
    finally:
        processes.stop(parent, timeout=60)
    # Memory counters would admit 4 per process; the database:// counters admit 4 in all, whichever process asks.
    assert [status for status, _ in answers] == [200] * 4 + [429] * (len(answers) - 4)


def test_a_child_that_dies_is_replaced(tmp_path: Path) -> None:
    env = processes.env_for(f"sqlite:///{tmp_path}/cv.db", tmp_path / "keys.json")
    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "serve.log").open("wb") as out:
        parent = subprocess.Popen(
            [*processes.CLI, "serve", "--workers", "2", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        _reach_each(base, "/healthz", time.monotonic() + START_SECONDS)
        servers = [c for c in _children(parent.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
        assert len(servers) == 2
        os.kill(servers[0], signal.SIGKILL)
        processes.wait_until(lambda: not _alive(servers[0]), timeout=10)
        _reach_each(base, "/healthz", time.monotonic() + START_SECONDS)  # both processes answer again
        now = [c for c in _children(parent.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
        assert parent.poll() is None
        assert len(now) == 2
        assert servers[0] not in now
        assert servers[1] in now
    finally:
        processes.stop(parent, timeout=60)
    assert "exited (code -9); starting another" in (tmp_path / "serve.log").read_text()
