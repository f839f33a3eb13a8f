"""Rate-limit storage benchmark (issue 17): what counting one request costs, per storage.

A request is counted twice (its key and its client address: ``RateLimiter.hit_key`` and ``hit_ip``). For each
storage this times N requests from one thread, then N from each of 4 threads at once (as a busy process's thread
pool does), and reports the wall time and the calling thread's CPU time per request, in microseconds:

- ``memory://``: the default of one process (``limits``' in-process storage).
- ``database://`` on SQLite: the counter table of ``serve --workers N`` (a sidecar file beside the database).
- ``database://`` on PostgreSQL: the same table in the main database, when ``$BENCH_PG_URL`` (or ``--pg URL``)
  names one (e.g. a throwaway server's ``postgresql+psycopg://...``).

Identities rotate over 50 keys and 200 addresses, so each hit is an update of a row in the current window.

Run: ``python -m bench ratelimit`` or ``python -m bench.ratelimit [--requests N] [--pg URL]``.
Writes bench/results/ratelimit.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contactvault.server.api.ratelimit import DATABASE_STORAGE, RateLimiter
from contactvault.server.config import Settings

ORDER = 150
RESULTS = Path(__file__).parent / "results"
DEFAULT_REQUESTS = 5_000
THREADS = 4


def _limiter(database_url: str, storage: str) -> RateLimiter:
    settings = Settings(
        database_url=database_url, rate_limit_storage=storage, rate_limit_per_key=10**9, rate_limit_per_ip=10**9
    )
    return RateLimiter.from_settings(settings, now=lambda: datetime.now(UTC))


def _requests(limiter: RateLimiter, count: int, offset: int) -> float:
    """Count ``count`` requests; the calling thread's CPU seconds."""
    started = time.thread_time()
    for n in range(offset, offset + count):
        limiter.hit_key(f"key-{n % 50}")
        limiter.hit_ip(f"10.0.{n % 200 // 100}.{n % 100}")
    return time.thread_time() - started


def measure(limiter: RateLimiter, count: int) -> dict[str, float]:
    """Per-request wall and CPU microseconds, alone and with 4 threads at once."""
    _requests(limiter, 200, 0)  # warm: connections opened, rows created
    started = time.perf_counter()
    cpu = _requests(limiter, count, 0)
    alone = time.perf_counter() - started
    barrier = threading.Barrier(THREADS)

    def one(k: int) -> float:
        barrier.wait()
        return _requests(limiter, count // THREADS, k * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        cpus = list(pool.map(one, range(THREADS)))
    together = time.perf_counter() - started
    done = THREADS * (count // THREADS)
    return {
        "alone_wall_us": alone / count * 1e6,
        "alone_cpu_us": cpu / count * 1e6,
        "threads4_wall_us": together / done * 1e6,
        "threads4_cpu_us": sum(cpus) / done * 1e6,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure every storage available; print a table and write the results."""
    parser = argparse.ArgumentParser(prog="python -m bench.ratelimit")
    parser.add_argument(
        "--requests", type=int, default=int(os.environ.get("BENCH_RATELIMIT_REQUESTS", DEFAULT_REQUESTS))
    )
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG_URL"))
    args = parser.parse_args(argv or [])
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        sqlite_url = f"sqlite:///{folder}/bench.db"
        cases = [("memory://", sqlite_url, "memory://"), ("database:// SQLite", sqlite_url, DATABASE_STORAGE)]
        if args.pg:
            cases.append(("database:// PostgreSQL", args.pg, DATABASE_STORAGE))
        for name, url, storage in cases:
            limiter = _limiter(url, storage)
            try:
                rows[name] = measure(limiter, args.requests)
            finally:
                limiter.close()
    print(f"{'storage':<24} {'wall µs/req':>12} {'CPU µs/req':>11} {'4 threads wall':>15} {'4 threads CPU':>14}")
    for name, r in rows.items():
        print(
            f"{name:<24} {r['alone_wall_us']:>12.1f} {r['alone_cpu_us']:>11.1f} "
            f"{r['threads4_wall_us']:>15.1f} {r['threads4_cpu_us']:>14.1f}"
        )
    result = {"requests": args.requests, "machine": platform.platform(), "cpus": os.cpu_count(), "storages": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ratelimit.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
