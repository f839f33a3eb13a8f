"""Scale-out benchmark (issue 5): worker throughput with 1, 2 and 4 worker processes on PostgreSQL, and the same
work with one worker on embedded SQLite, in one run.

The work: 200 tasks of 100 items (20,000 people, each with a vault email), submitted through the service layer
before any worker starts, then held back (``next_attempt_at`` in the future). The ``contactvault worker``
processes start, say they are ready, and the items are released in one UPDATE; throughput is items over the time
from that release to the last item's ``completed_at``. Every PostgreSQL run starts from a copy of one prepared
template database, so each run sees exactly the same rows. The PostgreSQL server is a throwaway one on a loopback
port (``tests/pg.py``), tuned for throughput rather than durability as in the test suite (fsync off).

Run: ``python -m bench scale`` (needs the PostgreSQL server binaries). Writes ``bench/results/scale.json``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from tests import pg

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.tables import companies, contact_points, event_personnel, events, personnel, task_items
from contactvault.server.demo.provisioning import provision_account
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import unlocks

ORDER = 150  # after the quicker benchmarks
RESULTS = Path(__file__).parent / "results"
EVENT = 1
TASKS = 200
TASK_SIZE = 100
PEOPLE = TASKS * TASK_SIZE
WORKER_COUNTS = (1, 2, 4)
HELD_BACK = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Run:
    """One measured configuration, with the CPU its workers and its database server used meanwhile."""

    backend: str
    workers: int
    items: int
    seconds: float
    worker_cpu: float  # CPU seconds of the worker processes during the run
    database_cpu: float  # CPU seconds of the PostgreSQL server's processes (0 for SQLite: it runs in the worker)

    @property
    def items_per_s(self) -> float:
        """Throughput."""
        return self.items / self.seconds


def _directory(rt: Runtime) -> None:
    with rt.db.write() as conn:
        conn.execute(insert(events).values(id=EVENT, name="Scale Expo"))
        conn.execute(insert(companies).values(id=1, name="Scale Corp", domain="scale.test"))
        sealed = rt.cipher.seal("someone@scale.test")  # one ciphertext serves everyone: resolving still opens it
        digest = rt.cipher.lookup_hash("email", "someone@scale.test")
        for start in range(1, PEOPLE + 1, 5000):
            ids = range(start, min(start + 5000, PEOPLE + 1))
            conn.execute(insert(personnel), [{"id": i, "full_name": f"P {i}", "company_id": 1} for i in ids])
            conn.execute(
                insert(event_personnel),
                [{"event_id": EVENT, "personnel_id": i, "source_types": "exhibitor"} for i in ids],
            )
            conn.execute(
                insert(contact_points),
                [
                    {
                        "personnel_id": i,
                        "channel": "email",
                        "value_encrypted": sealed,
                        "value_hash": digest,
                        "source": "vault",
                    }
                    for i in ids
                ],
            )


def prepare(settings: Settings) -> None:
    """Directory, one account, every task submitted and held back."""
    rt = build_runtime(settings)
    try:
        _directory(rt)
        account_id = provision_account(rt, "bench", 15 * PEOPLE).account_id
        for start in range(1, PEOPLE + 1, TASK_SIZE):
            ids = [str(i) for i in range(start, start + TASK_SIZE)]
            unlocks.submit(rt, unlocks.UnlockRequest(account_id, Channel.EMAIL, str(EVENT), ids))
        with rt.db.write() as conn:
            conn.execute(update(task_items).values(next_attempt_at=HELD_BACK))
    finally:
        rt.db.dispose()


def _worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTVAULT_")}
    env.update(
        {
            "CONTACTVAULT_DATABASE_URL": settings.database_url,
            "CONTACTVAULT_ENCRYPTION_KEY_FILE": str(settings.encryption_key_file),
            # Idle workers look for work this often (SQLite has no NOTIFY to wake them at the release).
            "CONTACTVAULT_WORKER_IDLE_SECONDS": "0.05",
        }
    )
    return env


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (Linux /proc; 0 where it cannot be read)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def _children_of(parent: int | None) -> list[int]:
    """The postmaster's children: the server's backends and helpers."""
    if parent is None:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent:
                found.append(int(entry.name))
    return found


def measure(backend: str, settings: Settings, workers: int, logs: Path, postmaster: int | None = None) -> Run:
    """Start ``workers`` processes, release the held-back items, time them to the last completion."""
    env = _worker_env(settings)
    procs: list[subprocess.Popen[bytes]] = []
    log_files = [logs / f"{backend}-{workers}-{n}.log" for n in range(workers)]
    try:
        for path in log_files:
            with open(path, "wb") as out:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "contactvault.cli.main", "worker"],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        _wait(lambda: all(b" started" in p.read_bytes() for p in log_files), 60, "workers did not start")
        rt = build_runtime(settings, migrate=False)
        worker_pids = [p.pid for p in procs]
        try:
            database_pids = _children_of(postmaster)
            cpu_before = (_cpu_seconds(worker_pids), _cpu_seconds(database_pids))
            released = rt.clock.now()
            with rt.db.write() as conn:
                conn.execute(update(task_items).values(next_attempt_at=released))
            rt.notifier.kick_worker()  # PostgreSQL: NOTIFY wakes every worker at once

            def finished() -> bool:
                with rt.db.read() as conn:
                    left = conn.execute(
                        select(func.count()).where(task_items.c.status.in_(("pending", "processing")))
                    ).scalar_one()
                return int(left) == 0

            _wait(finished, 600, "items did not finish", interval=0.05)
            database_pids = sorted(set(database_pids) | set(_children_of(postmaster)))
            worker_cpu = _cpu_seconds(worker_pids) - cpu_before[0]
            database_cpu = _cpu_seconds(database_pids) - cpu_before[1]
            with rt.db.read() as conn:
                last = conn.execute(select(func.max(task_items.c.completed_at))).scalar_one()
                done = conn.execute(select(func.count()).where(task_items.c.status == "unlocked")).scalar_one()
        finally:
            rt.db.dispose()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
    if int(done) != PEOPLE:
        raise RuntimeError(f"{backend}/{workers}: {done} of {PEOPLE} items unlocked")
    elapsed: timedelta = last - released
    return Run(backend, workers, int(done), elapsed.total_seconds(), worker_cpu, database_cpu)


def _wait(check: Any, timeout: float, message: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(message)
        time.sleep(interval)


def postgres_runs(tmp: Path) -> list[Run]:
    """1, 2 and 4 workers, each on a fresh copy of the same prepared database."""
    server = pg.PgServer.create()
    runs = []
    try:
        server.start()
        pg.execute(server.url(), "CREATE DATABASE scale_template")
        keys = tmp / "keys.json"
        prepare(Settings(database_url=server.url("scale_template"), encryption_key_file=keys))
        for workers in WORKER_COUNTS:
            name = f"scale_{workers}"
            pg.execute(server.url(), f"CREATE DATABASE {name} TEMPLATE scale_template")
            pg.execute(server.url(name), "ANALYZE")
            settings = Settings(database_url=server.url(name), encryption_key_file=keys)
            runs.append(measure("postgresql", settings, workers, tmp, server.postmaster_pid()))
            pg.execute(server.url(), f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        server.destroy()
    return runs


def sqlite_run(tmp: Path) -> Run:
    """The same work on an embedded SQLite file, one worker."""
    settings = Settings(database_url=f"sqlite:///{tmp}/scale.db", encryption_key_file=tmp / "sqlite-keys.json")
    prepare(settings)
    return measure("sqlite", settings, 1, tmp)


def table(runs: list[Run]) -> str:
    """The Markdown table for docs/benchmarks.md."""
    base = next(r for r in runs if r.backend == "postgresql" and r.workers == 1).items_per_s
    lines = [
        "| backend | worker processes | items | seconds | items/s | vs 1 PostgreSQL worker "
        "| CPU: workers | CPU: PostgreSQL |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        database = f"{r.database_cpu / r.seconds:.2f} cores" if r.backend == "postgresql" else "(in the worker)"
        lines.append(
            f"| {r.backend} | {r.workers} | {r.items:,} | {r.seconds:.2f} | {r.items_per_s:,.0f} "
            f"| {r.items_per_s / base:.2f}x | {r.worker_cpu / r.seconds:.2f} cores | {database} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run every configuration, print the table, write bench/results/scale.json."""
    with tempfile.TemporaryDirectory(prefix="cv-bench-scale-") as tmp:
        root = Path(tmp)
        runs = [*postgres_runs(root), sqlite_run(root)]
    print(table(runs))
    RESULTS.mkdir(exist_ok=True)
    result = {
        "work": {"tasks": TASKS, "items_per_task": TASK_SIZE, "items": PEOPLE, "resolver": "vault"},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": [
            {
                "backend": r.backend,
                "workers": r.workers,
                "items": r.items,
                "seconds": round(r.seconds, 3),
                "items_per_s": round(r.items_per_s),
                "worker_cpu_seconds": round(r.worker_cpu, 2),
                "database_cpu_seconds": round(r.database_cpu, 2),
            }
            for r in runs
        ],
    }
    (RESULTS / "scale.json").write_text(json.dumps(result, indent=2) + "\n")
