"""Scale-out on PostgreSQL, for real: two API nodes (``serve --no-worker``) and three worker processes.

Clients of two accounts submit overlapping batches through both nodes and long-poll their tasks through the
other node, while workers are SIGKILLed and replaced and PostgreSQL is restarted once (``pg_ctl restart -m fast``).
At the end every task is terminal, nobody is charged twice, and the ledger reconciles.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from contactvault.server.services.reconcile import reconcile
from tests import pg
from tests.e2e import processes
from tests.engine import balance
from tests.factories import BIG_EVENT, Account, make_account, make_directory

pytestmark = pytest.mark.slow

MIN_BATCHES = 6  # per account; clients go on submitting until the chaos is over, up to MAX_BATCHES
MAX_BATCHES = 40
PEOPLE = MAX_BATCHES * 25 + 100
CREDIT = 100_000
KILLS = 6
BATCH = 40
STEP = 25  # batches overlap: each shares 15 people with the one before
RUN_SECONDS = 90  # the bound on the whole exercise, from the first submission to every item terminal


class Processes:
    """Long-running processes with their output in files (a pipe nobody reads can fill and block them)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``contactvault <args>``, output to ``<logs>/<name>.log``."""
        with open(self.logs / f"{name}.log", "wb") as out:
            proc = subprocess.Popen([*processes.CLI, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def api_node(self, name: str) -> str:
        """An API node (no in-process worker) on a free port; returns its base URL once it answers."""
        port = processes.free_port()
        proc = self.start(name, "serve", "--no-worker", "--port", str(port))
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, (self.logs / f"{name}.log").read_text()
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        processes.wait_until(up)
        return base

    def stop_all(self) -> None:
        """SIGTERM everything still running (SIGKILL after a grace period)."""
        for proc in self.procs:
            processes.stop(proc, timeout=10)


@contextmanager
def running(env: dict[str, str], logs: Path) -> Iterator[Processes]:
    """A process group that is always stopped."""
    group = Processes(env, logs)
    try:
        yield group
    finally:
        group.stop_all()


def _submit(base: str, account: Account, ids: list[int], deadline: float) -> str | None:
    """Submit with an idempotency key, retrying through outages; the task id, or None if nothing was chargeable."""
    headers = {**account.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"event_id": str(BIG_EVENT), "personnel_ids": [str(i) for i in ids]}
    while time.monotonic() < deadline:
        try:
            response = httpx.post(f"{base}/external/contacts/unlock", json=body, headers=headers, timeout=10)
        except httpx.TransportError:
            time.sleep(0.2)  # a node or the database is restarting: retry until the deadline
            continue
        if response.status_code == 201:
            task_id = response.json().get("task_id")
            return None if task_id is None else str(task_id)
        # 503 while the database restarts; 409 while the key's first attempt (cut short) is still fresh.
        assert response.status_code in (503, 409), response.text
        time.sleep(0.2)  # back off like a client would, until the deadline
    raise AssertionError("submission did not get through before the deadline")


def _follow(base: str, account: Account, task_id: str, deadline: float) -> str:
    """Long-poll a task through ``base`` until it is terminal; its final status."""
    url = f"{base}/external/contacts/unlock-tasks/{task_id}"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, params={"wait": 5}, headers=account.headers, timeout=15)
        except httpx.TransportError:
            time.sleep(0.2)  # a node or the database is restarting: retry until the deadline
            continue
        if response.status_code == 503:
            time.sleep(0.2)  # the database is restarting: retry until the deadline
            continue
        assert response.status_code == 200, response.text
        status = str(response.json()["taskStatus"])
        if status in ("completed", "failed"):
            return status
    raise AssertionError(f"task {task_id} not terminal before the deadline")


def _client(
    nodes: list[str], account: Account, first: int, seed: int, deadline: float, calm: threading.Event, out: list[str]
) -> None:
    rng = random.Random(seed)
    for n in range(MAX_BATCHES):
        if n >= MIN_BATCHES and calm.is_set():
            return
        start = first + n * STEP
        ids = list(range(start, start + BATCH))
        rng.shuffle(ids)
        via = rng.randrange(2)
        task_id = _submit(nodes[via], account, ids, deadline)
        if task_id is not None:
            out.append(_follow(nodes[1 - via], account, task_id, deadline))
        time.sleep(rng.uniform(0.0, 0.3))  # spread submissions over the kills and the restart: the point of the test


def _chaos(
    group: Processes,
    workers: list[subprocess.Popen[bytes]],
    server: pg.PgServer,
    calm: threading.Event,
    done: list[str],
) -> None:
    """Kill a random worker every so often and start a replacement; restart PostgreSQL once on the way."""
    rng = random.Random(5)
    try:
        for kill in range(1, KILLS + 1):
            time.sleep(rng.uniform(0.8, 1.5))  # random moments to kill at: the point of this test
            victim = workers.pop(rng.randrange(len(workers)))
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            done.append("kill")
            workers.append(group.start(f"worker-{kill + 3}", "worker"))
            if kill == 2:
                server.restart("fast")
                done.append("restart")
    finally:
        calm.set()


def _item_counts(rt: Runtime) -> dict[str, int]:
    with rt.db.read() as conn:
        rows = conn.execute(select(tables.task_items.c.status, func.count()).group_by(tables.task_items.c.status))
        return {str(s): int(n) for s, n in rows}


@pytest.mark.postgresql
def test_two_api_nodes_three_workers_kills_and_a_database_restart(
    private_postgres: tuple[pg.PgServer, str], tmp_path: Path
) -> None:
    server, url = private_postgres
    settings = Settings(database_url=url, encryption_key_file=tmp_path / "keys.json")
    rt = build_runtime(settings)  # migrates once, as an operator would before starting the nodes
    try:
        make_directory(rt, people=PEOPLE)
        accounts = [make_account(rt, CREDIT), make_account(rt, CREDIT, name="other")]
        env = processes.env_for(
            url,
            tmp_path / "keys.json",
            CONTACTVAULT_WORKER_LEASE_SECONDS="2",
            CONTACTVAULT_WORKER_BATCH_SIZE="13",
            CONTACTVAULT_IDEMPOTENCY_STALE_SECONDS="2",
            CONTACTVAULT_RATE_LIMIT_PER_KEY="0",
            CONTACTVAULT_RATE_LIMIT_PER_IP="0",
        )
        with running(env, tmp_path) as group:
            nodes = [group.api_node("api-1"), group.api_node("api-2")]
            workers = [group.start(f"worker-{n}", "worker") for n in range(1, 4)]
            started = time.monotonic()
            deadline = started + RUN_SECONDS
            finals: list[str] = []
            calm = threading.Event()
            mayhem: list[str] = []
            chaos = threading.Thread(target=_chaos, args=(group, workers, server, calm, mayhem))
            clients = [
                threading.Thread(target=_client, args=(nodes, account, 1 + 10 * k, k, deadline, calm, finals))
                for k, account in enumerate(accounts)
            ]
            chaos.start()
            for client in clients:
                client.start()
            chaos.join(timeout=RUN_SECONDS)
            for client in clients:
                client.join(timeout=RUN_SECONDS + 10)
            processes.wait_until(lambda: set(_item_counts(rt)) <= {"unlocked", "failed"}, timeout=30)
            elapsed = time.monotonic() - started
        assert elapsed < RUN_SECONDS
        assert mayhem.count("kill") == KILLS
        assert "restart" in mayhem
        assert not any(c.is_alive() for c in clients)
        _assert_settled(rt, accounts, len(finals))
    finally:
        rt.db.dispose()


def _assert_settled(rt: Runtime, accounts: list[Account], followed: int) -> None:
    with rt.db.read() as conn:
        statuses = conn.execute(select(tables.tasks.c.status)).scalars().all()
        charged = conn.execute(
            select(tables.task_items.c.account_id, tables.task_items.c.personnel_id, func.count())
            .where(tables.task_items.c.credits_charged > 0)
            .group_by(tables.task_items.c.account_id, tables.task_items.c.personnel_id)
        ).all()
        unlocked: dict[int, int] = dict(
            conn.execute(select(tables.unlocks.c.account_id, func.count()).group_by(tables.unlocks.c.account_id)).all()
        )
    assert len(statuses) == followed >= 2 * MIN_BATCHES
    assert set(statuses) <= {"completed", "failed"}
    assert all(n == 1 for *_, n in charged), "someone was charged twice"
    for account in accounts:
        assert unlocked[account.id] >= 100
        assert balance(rt, account) == CREDIT - 15 * unlocked[account.id]
    result = reconcile(rt)
    assert result.ok, result.problems


@pytest.mark.parametrize("trusted", [True, False])
def test_behind_a_trusted_balancer_the_ip_limit_counts_each_client(
    directory: Runtime, account: Account, settings: Settings, trusted: bool
) -> None:
    assert settings.encryption_key_file is not None
    env = processes.env_for(
        settings.database_url,
        settings.encryption_key_file,
        CONTACTVAULT_RATE_LIMIT_PER_IP="2",
        CONTACTVAULT_RATE_LIMIT_PER_KEY="0",
    )
    flags = ["--forwarded-allow-ips", "127.0.0.1"] if trusted else []
    with processes.server(env, "--no-worker", *flags) as base:

        def as_client(ip: str) -> int:
            headers = {**account.headers, "X-Forwarded-For": ip}
            return httpx.get(f"{base}/external/credits/balance", headers=headers).status_code

        first = [as_client("203.0.113.7") for _ in range(3)]
        other = as_client("203.0.113.8")
    assert first == [200, 200, 429]
    # Untrusted, every request counts against the balancer's own address.
    assert other == (200 if trusted else 429)
