"""Unlock engine benchmarks (issue 3), all in one run on an embedded SQLite file:

a. worker throughput: 100 tasks x 100 items, vault resolver, one worker, from first claim to all terminal;
b. submissions/s of 100-id unlock requests over HTTP on loopback;
c. polling a finished 100-item task, as a ratio to the balance route;
d. latency from the last item's commit to a long-polling client's answer.

Run: ``python -m bench unlock`` (or ``make bench``). Writes bench/results/unlock.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.tables import companies, contact_points, event_personnel, events, personnel
from contactvault.server.demo.provisioning import provision_account
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import unlocks
from contactvault.server.worker.runner import Worker

ORDER = 30  # after the directory benchmark, in issue order
RESULTS = Path(__file__).parent / "results"
EVENT = 1
PEOPLE = 10_000


def build_directory(rt: Runtime, people: int) -> None:
    """One event, one company, ``people`` people, each with a vault email."""
    with rt.db.write() as conn:
        conn.execute(insert(events).values(id=EVENT, name="Bench Expo", date_start=date(2026, 5, 1)))
        conn.execute(insert(companies).values(id=1, name="Bench Corp", domain="bench.test"))
        for start in range(1, people + 1, 5000):
            ids = range(start, min(start + 5000, people + 1))
            conn.execute(insert(personnel), [{"id": i, "full_name": f"P {i}", "company_id": 1} for i in ids])
            conn.execute(
                insert(event_personnel),
                [{"event_id": EVENT, "personnel_id": i, "source_types": "exhibitor"} for i in ids],
            )
            sealed = rt.cipher.seal("bench@bench.test")  # one ciphertext is enough for a benchmark
            digest = rt.cipher.lookup_hash("email", "bench@bench.test")
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


def worker_throughput(rt: Runtime) -> dict[str, Any]:
    """(a) items/s for 100 tasks of 100 items with one worker; also the service-level submission rate."""
    account_id = provision_account(rt, "bench", 15 * PEOPLE).account_id
    began = time.perf_counter()
    for start in range(1, PEOPLE + 1, 100):
        unlocks.submit(
            rt,
            unlocks.UnlockRequest(account_id, Channel.EMAIL, str(EVENT), [str(i) for i in range(start, start + 100)]),
        )
    submit_seconds = time.perf_counter() - began
    worker = Worker(rt, worker_id="bench")
    began = time.perf_counter()
    done = worker.drain()
    elapsed = time.perf_counter() - began
    worker.close()
    assert done == PEOPLE, done
    return {
        "items": done,
        "seconds": round(elapsed, 3),
        "items_per_s": round(done / elapsed),
        "service_submissions_per_s": round(PEOPLE / 100 / submit_seconds, 1),
    }


async def _load(
    base: str, headers: dict[str, str], requests: list[Callable[[httpx.AsyncClient], Any]], concurrency: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue = list(reversed(requests))

    async def client_loop(client: httpx.AsyncClient) -> None:
        while queue:
            make = queue.pop()
            t0 = time.perf_counter()
            response = await make(client)
            latencies.append(time.perf_counter() - t0)
            assert response.status_code < 300, response.text

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        began = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        return latencies, time.perf_counter() - began


def _summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "throughput_per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "contactvault.cli.main", "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def http_figures(rt: Runtime, settings: Settings, port: int) -> dict[str, Any]:
    """(b) submissions/s and (c) poll vs balance throughput, against a server process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTVAULT_")}
    env.update(
        {
            "CONTACTVAULT_DATABASE_URL": settings.database_url,
            "CONTACTVAULT_ENCRYPTION_KEY_FILE": str(settings.encryption_key_file),
            "CONTACTVAULT_RATE_LIMIT_PER_KEY": "0",
            "CONTACTVAULT_RATE_LIMIT_PER_IP": "0",
        }
    )
    accts = [provision_account(rt, "bench", 15 * PEOPLE) for _ in range(3)]
    proc = _serve(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        # (b) 300 submissions of 100 distinct chargeable ids: 3 accounts x 100 batches.
        latencies: list[float] = []
        elapsed = 0.0
        cpu_before = _cpu_seconds(proc.pid)
        for key in (acct.api_key for acct in accts):
            batches = [[str(i) for i in range(s, s + 100)] for s in range(1, PEOPLE + 1, 100)]
            reqs = [_unlock_request(b) for b in batches]
            lat, el = asyncio.run(_load(base, {"Authorization": f"Bearer {key}"}, reqs, 8))
            latencies += lat
            elapsed += el
        submissions: dict[str, Any] = _summary(latencies, elapsed)
        submissions["server_cpu_ms_per_request"] = round(
            (_cpu_seconds(proc.pid) - cpu_before) * 1000 / len(latencies), 2
        )
        # (c) a finished 100-item task from (a)'s account, against the balance route, same server, same run.
        worker = Worker(rt, worker_id="bench-c")
        key = accts[0].api_key
        headers = {"Authorization": f"Bearer {key}"}
        first = httpx.post(
            f"{base}/external/contacts/unlock",
            headers=headers,
            json={"event_id": str(EVENT), "personnel_ids": [str(i) for i in range(1, 101)]},
        )
        del first
        worker.drain()
        worker.close()
        task_id = _a_finished_task(rt, accts[0].account_id)
        n = 2000
        poll = asyncio.run(_load(base, headers, [lambda c: c.get(f"/external/contacts/unlock-tasks/{task_id}")] * n, 8))
        balance = asyncio.run(_load(base, headers, [lambda c: c.get("/external/credits/balance")] * n, 8))
    finally:
        proc.terminate()
        proc.wait()
    poll_s, balance_s = _summary(*poll), _summary(*balance)
    return {
        "submissions": submissions,
        "poll_finished_task": poll_s,
        "balance": balance_s,
        "poll_to_balance_ratio": round(poll_s["throughput_per_s"] / balance_s["throughput_per_s"], 2),
    }


def _unlock_request(batch: list[str]) -> Callable[[httpx.AsyncClient], Any]:
    return lambda c: c.post("/external/contacts/unlock", json={"event_id": str(EVENT), "personnel_ids": batch})


def _a_finished_task(rt: Runtime, account_id: int) -> int:
    from sqlalchemy import select

    from contactvault.server.db.tables import tasks

    with rt.db.read() as conn:
        return int(
            conn.execute(select(tasks.c.id).where(tasks.c.account_id == account_id, tasks.c.status == "completed"))
            .scalars()
            .all()[0]
        )


def long_poll_latency(settings: Settings, port: int, trials: int = 60) -> dict[str, Any]:
    """(d) from the commit of a task's last item to the long-polling client's answer (server in this process)."""
    import uvicorn

    from contactvault.server.api.app import create_app

    rt = build_runtime(settings)
    key = provision_account(rt, "bench", 15 * 1000).api_key
    app = create_app(runtime=rt, run_worker=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    committed: dict[int, float] = {}
    original = rt.notifier.publish

    def stamped(task_ids: Any) -> None:
        now = time.perf_counter()
        for t in list(task_ids):
            committed.setdefault(t, now)
        original(task_ids)

    rt.notifier.publish = stamped  # type: ignore[method-assign]
    worker = Worker(rt, worker_id="bench-d")
    latencies = []
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:
        # People from (a)/(b) are unlocked for other accounts; this account has them all still locked.
        for n in range(trials):
            pid = str(PEOPLE - n)
            task_id = int(
                http.post("/external/contacts/unlock", json={"event_id": str(EVENT), "personnel_ids": [pid]}).json()[
                    "task_id"
                ]
            )
            answer: dict[str, float] = {}

            def poll(tid: int = task_id, out: dict[str, float] = answer) -> None:
                http.get(f"/external/contacts/unlock-tasks/{tid}", params={"wait": 30})
                out["t"] = time.perf_counter()

            poller = threading.Thread(target=poll)
            poller.start()
            while task_id not in rt.notifier._listeners:  # wait until the request is listening
                time.sleep(0.001)
            committed.pop(task_id, None)
            worker.run_once()  # claim (publishes), resolve, record (publishes after commit)
            poller.join()
            # The claim wakes the poll first (the task changed to processing); measure the final commit instead.
            latencies.append(answer["t"] - committed[task_id])
    worker.close()
    server.should_exit = True
    thread.join()
    rt.db.dispose()
    ordered = sorted(latencies)
    return {
        "trials": trials,
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
    }


def main() -> None:
    """Run every figure and print a table."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/bench.db", encryption_key_file=Path(tmp) / "keys.json")
        rt = build_runtime(settings)
        build_directory(rt, PEOPLE)
        a = worker_throughput(rt)
        bc = http_figures(rt, settings, 18431)
        rt.db.dispose()
        d = long_poll_latency(settings, 18432)
    results = {"worker": a, **bc, "long_poll": d}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "unlock.json").write_text(json.dumps(results, indent=2))
    rows = [
        ("a. worker throughput (100 x 100 items, 1 worker)", f"{a['items_per_s']} items/s", ">= 10,000 items/s"),
        (
            "b. 100-id submissions",
            f"{bc['submissions']['throughput_per_s']}/s "
            f"(p50 {bc['submissions']['p50_ms']} ms, p95 {bc['submissions']['p95_ms']} ms; "
            f"server CPU {bc['submissions']['server_cpu_ms_per_request']} ms/request)",
            ">= 300/s",
        ),
        (
            "c. poll finished 100-item task / balance",
            f"{bc['poll_to_balance_ratio']} "
            f"({bc['poll_finished_task']['throughput_per_s']}/s vs {bc['balance']['throughput_per_s']}/s)",
            ">= 0.5",
        ),
        ("d. last commit -> long-poll answer", f"p50 {d['p50_ms']} ms, p95 {d['p95_ms']} ms", "p95 <= 50 ms"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure'.ljust(width)} | measured | goal")
    for name, value, goal in rows:
        print(f"{name.ljust(width)} | {value} | {goal}")


if __name__ == "__main__":
    main()
