"""100-id unlock submissions over HTTP (issue 17): server CPU per submission and submissions/s, ``serve --workers``
1 and 2, with a load generator that is not the bottleneck.

Each row gets a fresh SQLite file with one event of 10,000 people (each with a vault email, as in
``bench/unlock.py``) and 64 accounts: 6,400 distinct submissions of 100 chargeable ids (each account's 100
batches). ``wrk`` (bench/_wrk.py) sends them in turn for ``BENCH_SECONDS`` (default 8) over 8 keep-alive
connections, each request with its account's key, interleaving the accounts; wrk runs by time, so a run that would
send a batch twice (more than 6,400 submissions) is reported as an error rather than measured.

The server is ``contactvault serve --no-worker --workers N`` (rate limits on, as deployed: memory:// with one
process, the database:// counters with more, high enough never to refuse). Submissions are counted in the database
afterwards (tasks created), and the server's CPU is read from ``/proc`` for the parent and its children.
``BENCH_BASELINE_SRC=DIR`` (another checkout's ``src``) adds a ``--workers 1`` row of that code. Without ``wrk``
the benchmark says so and measures nothing (httpx would measure itself).

Run: ``python -m bench submissions``. Writes bench/results/submissions.json.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.tables import tasks
from contactvault.server.demo.provisioning import provision_account

from . import _wrk
from .serve_workers import _cpu_seconds, _free_port
from .unlock import EVENT, PEOPLE, build_directory

ORDER = 35  # after the unlock benchmark it extends
RESULTS = Path(__file__).parent / "results"
ACCOUNTS = 64
CONNECTIONS = 8
BATCH = 100
GOAL_CPU_MS = 3.0
GOAL_PER_S = 300.0


def measure(folder: Path, name: str, workers: int, seconds: float, src: str | None = None) -> dict[str, Any]:
    """One row: a fresh database, every account's batches once through ``serve --workers N``."""
    url = f"sqlite:///{folder}/{name}.db"
    keys = folder / f"{name}.keys.json"
    rt = build_runtime(Settings(database_url=url, encryption_key_file=keys))
    build_directory(rt, PEOPLE)
    accounts = [provision_account(rt, f"bench-{i}", 15 * PEOPLE) for i in range(ACCOUNTS)]
    rt.db.dispose()
    batches = [[str(i) for i in range(s, s + BATCH)] for s in range(1, PEOPLE + 1, BATCH)]
    requests: list[_wrk.Request] = [
        (
            "POST",
            "/external/contacts/unlock",
            json.dumps({"event_id": str(EVENT), "personnel_ids": batch}),
            f"Bearer {account.api_key}",
        )
        for batch in batches
        for account in accounts
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTVAULT_")}
    env.update(
        CONTACTVAULT_DATABASE_URL=url,
        CONTACTVAULT_ENCRYPTION_KEY_FILE=str(keys),
        CONTACTVAULT_RATE_LIMIT_PER_KEY="100000000",
        CONTACTVAULT_RATE_LIMIT_PER_IP="100000000",
        CONTACTVAULT_LOG_LEVEL="WARNING",
    )
    if src:  # another checkout's code first on the import path
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(src).resolve()), env.get("PYTHONPATH")) if p)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "contactvault.cli.main", "serve", "--no-worker", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        seen: set[str] = set()
        deadline = time.monotonic() + 120
        while len(seen) < workers:  # every process up (new connections spread over them)
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start")
            try:
                seen.add(httpx.get(f"{base}/healthz", timeout=5).headers.get("x-contactvault-process", "0"))
            except httpx.TransportError:
                time.sleep(0.2)  # still starting: poll again until the deadline
        cpu = _cpu_seconds(proc.pid)
        run = _wrk.run(base, requests, authorization=None, connections=CONNECTIONS, seconds=seconds)
        cpu = _cpu_seconds(proc.pid) - cpu
    finally:
        proc.terminate()
        proc.wait(60)
    rt = build_runtime(Settings(database_url=url, encryption_key_file=keys))
    with rt.db.read() as conn:
        created = int(conn.execute(select(func.count()).select_from(tasks)).scalar_one())
    rt.db.dispose()
    if run.requests > len(requests):
        raise RuntimeError(f"{run.requests} submissions in {seconds} s: more than the {len(requests)} distinct ones")
    return {
        "workers": workers,
        "code": "baseline" if src else "current",
        "submissions": created,
        "answered": run.requests,
        "errors": run.errors,
        "seconds": round(run.seconds, 2),
        "per_second": round(created / run.seconds, 1),
        "server_cpu_ms_per_submission": round(cpu / max(created, 1) * 1000, 2),
        "p50_ms": round(run.p50_ms, 1),
        "p95_ms": round(run.p95_ms, 1),
    }


def main() -> None:
    """Measure each row; print a table and write the results."""
    if not _wrk.available():
        print("wrk is not installed (apt-get install wrk): nothing measured; httpx would measure itself here")
        return
    baseline = os.environ.get("BENCH_BASELINE_SRC")
    seconds = float(os.environ.get("BENCH_SECONDS", 8))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        plan: list[tuple[str, int, str | None]] = [("current-1", 1, None), ("current-2", 2, None)]
        if baseline:
            plan.insert(0, ("baseline-1", 1, baseline))
        for name, workers, src in plan:
            rows.append(measure(Path(folder), name, workers, seconds, src))
            print(f"  {name}: {rows[-1]}", flush=True)
    print("| code | --workers | submissions | errors | submissions/s | server CPU ms/submission | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['code']} | {r['workers']} | {r['submissions']:,} | {r['errors']} | {r['per_second']:,.0f} | "
            f"{r['server_cpu_ms_per_submission']} | {r['p50_ms']} | {r['p95_ms']} |"
        )
    print(f"goal: ≤ {GOAL_CPU_MS} ms server CPU per submission, ≥ {GOAL_PER_S:.0f}/s with --workers 2")
    RESULTS.mkdir(exist_ok=True)
    result = {"machine": platform.platform(), "cpus": os.cpu_count(), "connections": CONNECTIONS, "rows": rows}
    (RESULTS / "submissions.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS / 'submissions.json'}")


if __name__ == "__main__":
    main()
