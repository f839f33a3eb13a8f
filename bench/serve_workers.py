"""``serve --workers N`` benchmark (issue 17): requests/s and server CPU per request, N = 1 and N = 2.

Starts the real server (``contactvault serve --no-worker --workers N``) on a fresh SQLite file with an account,
then 8 keep-alive connections (a connection stays with the process it reached) ask ``GET
/external/credits/balance`` for ``--seconds``: from ``wrk`` (bench/_wrk.py) when installed, else from 8 httpx
client threads, which are then the bottleneck (they spend more CPU per request than the server). Rate limits are
on, as deployed: ``memory://`` with one process, the ``database://`` counters ``serve --workers N`` switches to with
more. The server's CPU is read from ``/proc`` (parent and children), so the load generator's own CPU is not
counted. On a machine shared with other work, compare the two rows of one run only.

Run: ``python -m bench serve_workers`` or ``python -m bench.serve_workers [--seconds S] [--workers 1,2]``.
Writes bench/results/serve_workers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.demo.provisioning import provision_account

from . import _wrk

ORDER = 160
RESULTS = Path(__file__).parent / "results"
CLIENTS = 8
CLI = [sys.executable, "-m", "contactvault.cli.main"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children still running."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    for one in pids:
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _load(base: str, key: str, seconds: float) -> int:
    done = [0] * CLIENTS
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            while time.monotonic() < stop:
                assert http.get("/external/credits/balance").status_code == 200
                done[k] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done)


def measure(folder: Path, workers: int, seconds: float) -> dict[str, float]:
    """One server with ``workers`` processes under 8 clients."""
    url = f"sqlite:///{folder}/bench-{workers}.db"
    keys = folder / f"keys-{workers}.json"
    rt = build_runtime(Settings(database_url=url, encryption_key_file=keys))
    key = provision_account(rt, "bench", 1000).api_key
    rt.db.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTVAULT_")}
    env.update(
        CONTACTVAULT_DATABASE_URL=url,
        CONTACTVAULT_ENCRYPTION_KEY_FILE=str(keys),
        CONTACTVAULT_RATE_LIMIT_PER_KEY="100000000",
        CONTACTVAULT_RATE_LIMIT_PER_IP="100000000",
        CONTACTVAULT_LOG_LEVEL="WARNING",
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    args = [*CLI, "serve", "--no-worker", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen: set[str] = set()
        deadline = time.monotonic() + 120
        while len(seen) < workers:  # every process up (new connections spread over them)
            assert time.monotonic() < deadline, "server did not start"
            try:
                seen.add(httpx.get(f"{base}/healthz", timeout=5).headers.get("x-contactvault-process", "0"))
            except httpx.TransportError:
                time.sleep(0.2)  # still starting: poll again until the deadline
        _load(base, key, 1.0)  # warm
        cpu = _cpu_seconds(proc.pid)
        started = time.perf_counter()
        if _wrk.available():
            request: list[_wrk.Request] = [("GET", "/external/credits/balance", None)]
            run = _wrk.run(base, request, authorization=f"Bearer {key}", connections=CLIENTS, seconds=seconds)
            count, elapsed = run.requests, run.seconds
        else:
            count = _load(base, key, seconds)
            elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(proc.pid) - cpu
    finally:
        proc.terminate()
        proc.wait(60)
    return {"requests": count, "per_second": count / elapsed, "server_cpu_us_per_request": cpu / count * 1e6}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure each N; print a table and write the results."""
    parser = argparse.ArgumentParser(prog="python -m bench.serve_workers")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args(argv or [])
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for n in (int(w) for w in args.workers.split(",")):
            rows[str(n)] = measure(Path(folder), n, args.seconds)
    print(f"{'--workers':>9} {'requests/s':>11} {'server CPU µs/request':>22}")
    for name, r in rows.items():
        print(f"{name:>9} {r['per_second']:>11.0f} {r['server_cpu_us_per_request']:>22.0f}")
    result: dict[str, Any] = {
        "clients": CLIENTS,
        "seconds": args.seconds,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "workers": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_workers.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
