"""Directory benchmark (issue 2): seed a large synthetic directory, then time the free directory routes over HTTP.

1. Seed ``--people`` people (default ``$BENCH_PEOPLE`` or 1,000,000) into a temporary SQLite file; report the time.
2. Start the real server (``contactvault serve --no-worker`` in a subprocess, rate limits on in memory storage
   as deployed, set high enough never to refuse) and, as the ceiling, a bare FastAPI app with one unauthenticated
   route, in a second uvicorn subprocess. With ``--baseline-src DIR`` (a ``src`` folder of another checkout) a
   third server runs that code on the same database, and every API scenario is measured on both, in turn.
3. ``--concurrency`` keep-alive connections send each scenario's requests: contact search by a full company name
   (names vary), by one word of a name, the personnel list of the largest event (pages vary), the balance route,
   and the bare routes. The load generator is ``wrk`` (bench/_wrk.py) when installed, else httpx asyncio clients
   from this process. p50/p95/p99 latency, throughput, and the CPU each side spent per request (the server's from
   /proc, so a client-bound figure is visible as such).

Run: ``python -m bench directory`` (``make bench`` runs every benchmark); ``BENCH_PEOPLE=50000`` for a quick run;
``BENCH_DB=/var/tmp/dir.db`` seeds that file once and reuses it afterwards (its summary in ``<file>.seed.json``).
``BENCH_PROFILE=DIR`` (needs ``py-spy`` on the path) also records each API scenario's server with py-spy while it is
measured (``--gil``: the Python side of a request) and prints the phase split of ``bench/_profile_split.py``; the
raw profiles stay in DIR. Writes ``bench/results/directory.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.responses import Response

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.tables import companies, events, personnel
from contactvault.server.demo.provisioning import provision_account
from contactvault.server.demo.seeding import seed_directory

from . import _profile_split, _wrk

ORDER = 10  # issue 2's benchmark runs before the later ones
ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
DEFAULT_PEOPLE = 1_000_000
SEARCH_P95_GOAL_MS = 25.0
BALANCE_SHARE_GOAL = 0.5
SEARCH = "contact search (full company name)"
SEARCH_ALONE = "contact search (full company name), 1 client"
BEFORE = " [before]"
# Rate limits stay on (memory storage, as deployed) but high enough that one benchmark key is never refused.
BENCH_RATE_LIMIT = "1000000000"


def bare_app() -> FastAPI:
    """The ceiling: the same framework and server with no auth, no database and a fixed body."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    body = b'{"ok":true}'

    @app.get("/ok")
    async def ok() -> Response:
        return Response(body, media_type="application/json")

    @app.get("/ok-sync")
    def ok_sync() -> Response:
        # Like our routes: a plain function, so it runs in the thread pool.
        return Response(body, media_type="application/json")

    return app


@dataclass
class Scenario:
    """One kind of request, against one server."""

    name: str
    base: str
    paths: list[str]
    authorized: bool = True
    concurrency: int | None = None  # None: the run's --concurrency


@dataclass
class Figures:
    """What one scenario measured."""

    name: str
    requests: int
    errors: int
    concurrency: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    per_second: float
    server_cpu_us: float | None
    client_cpu_us: float


def main(argv: Sequence[str] | None = None) -> None:
    """Seed, serve, measure, print the table and write ``bench/results/directory.json``."""
    args = _parse(argv)
    RESULTS.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="contactvault-bench-"))
    try:
        results = _run(args, workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    (RESULTS / "directory.json").write_text(json.dumps(results, indent=2) + "\n")
    print(results["markdown"])
    print(f"\nwrote {RESULTS / 'directory.json'}")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.directory", description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=int(os.environ.get("BENCH_PEOPLE", DEFAULT_PEOPLE)))
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_CONCURRENCY", 12)))
    parser.add_argument("--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", 3000)))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 20)))
    parser.add_argument("--keep", action="store_true", help="keep the temporary database folder")
    parser.add_argument("--db", default=os.environ.get("BENCH_DB"), help="seed this SQLite file once, then reuse it")
    parser.add_argument("--baseline-src", default=os.environ.get("BENCH_BASELINE_SRC"), help="src of the 'before'")
    parser.add_argument("--profile", default=os.environ.get("BENCH_PROFILE"), help="py-spy each API scenario into DIR")
    # Called from ``python -m bench``, argv is None: options come from the environment only.
    return parser.parse_args([] if argv is None else list(argv))


def _run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    db = Path(args.db).resolve() if args.db else workdir / "bench.db"
    settings = Settings(
        database_url=f"sqlite:///{db}",
        encryption_key_file=db.with_name(db.name + ".keys.json"),
        rate_limit_per_key=0,
        rate_limit_per_ip=0,
    )
    rt = build_runtime(settings)
    summary_dict = _seeded(rt, args, db)
    api_key = provision_account(rt, f"bench-{time.time_ns()}", 10_000).api_key
    names, event_id, event_people = _targets(rt)
    rt.db.dispose()

    baseline = _server(_api_command(settings, args.baseline_src), workdir / "before.log") if args.baseline_src else None
    with (
        _server(_api_command(settings), workdir / "api.log") as (api, api_pid),
        _server(_bare_command(), workdir / "bare.log") as (bare, bare_pid),
        baseline or _nothing() as (before, before_pid),
    ):
        words = sorted({n.split()[0] for n in names})
        pages = max(1, min(event_people // 50, 20))
        scenarios = [
            Scenario(SEARCH, api, [_search(n) for n in names]),
            # The same requests one at a time: the latency of a search itself, without queueing behind others.
            Scenario(SEARCH_ALONE, api, [_search(n) for n in names], concurrency=1),
            Scenario("contact search (one word)", api, [_search(w) for w in words]),
            Scenario(
                "personnel list, largest event",
                api,
                [f"/external/personnel/list?event_id={event_id}&page={p}&pageSize=50" for p in range(1, pages + 1)],
            ),
            Scenario("credit balance", api, ["/external/credits/balance"]),
        ]
        if before:  # the same requests to the old code, each right after the new code's, in the same run
            scenarios = [
                x for s in scenarios for x in (s, Scenario(s.name + BEFORE, before, s.paths, True, s.concurrency))
            ]
        scenarios += [
            Scenario("bare route (async)", bare, ["/ok"], authorized=False),
            Scenario("bare route (sync, thread pool)", bare, ["/ok-sync"], authorized=False),
        ]
        pids = {api: api_pid, bare: bare_pid, before: before_pid}
        figures = []
        for s in scenarios:
            with _profiled(args.profile, s, pids[s.base], args.seconds):
                figures.append(
                    asyncio.run(
                        _measure(
                            s, api_key, s.concurrency or args.concurrency, args.requests, args.seconds, pids[s.base]
                        )
                    )
                )
    return _report(args, summary_dict=summary_dict, event_people=event_people, figures=figures)


def _seeded(rt: Any, args: argparse.Namespace, db: Path) -> dict[str, Any]:
    """Seed the directory, or reuse a file seeded by an earlier run (``--db``): its seeding summary."""
    record = db.with_name(db.name + ".seed.json")
    if args.db and record.exists():
        summary: dict[str, Any] = json.loads(record.read_text())
        print(f"reusing {db} seeded with {summary['people']:,} people", flush=True)
        return summary
    print(f"seeding {args.people:,} people at {args.events} events into {db} ...", flush=True)
    step = max(args.people // 10, 1)
    seeded = seed_directory(
        rt,
        people=args.people,
        events=args.events,
        progress=lambda done: print(f"  {done:,} people", flush=True) if done % step < 20_000 else None,
    )
    print(f"seeded in {seeded.seconds:.1f} s: {asdict(seeded)}", flush=True)
    if args.db:
        record.write_text(json.dumps(asdict(seeded)))
    return asdict(seeded)


@contextmanager
def _nothing() -> Iterator[tuple[str, int]]:
    yield "", 0


def _targets(rt: Any) -> tuple[list[str], int, int]:
    """Company names that have people (a fixed sample), and the event with the most people."""
    with rt.db.read() as conn:
        largest = conn.execute(
            select(events.c.id, events.c.personnel_count).order_by(events.c.personnel_count.desc()).limit(1)
        ).one()
        staffed = (
            select(companies.c.name)
            .where(companies.c.id.in_(select(personnel.c.company_id).distinct()))
            .order_by(companies.c.id)
        )
        count = int(conn.execute(select(func.count()).select_from(staffed.subquery())).scalar_one())
        rng = random.Random(2)
        picks = sorted(rng.sample(range(count), min(count, 300)))
        all_names = conn.execute(staffed).scalars().all()
    return [all_names[i] for i in picks], int(largest.id), int(largest.personnel_count)


def _search(company_name: str) -> str:
    return "/external/contacts/search?" + urlencode({"company_name": company_name})


# ---------------------------------------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _api_command(settings: Settings, src: str | None = None) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTVAULT_")}
    env.update(
        {
            "CONTACTVAULT_DATABASE_URL": settings.database_url,
            "CONTACTVAULT_ENCRYPTION_KEY_FILE": str(settings.encryption_key_file),
            # On, as deployed, in memory storage; one key hammering at this rate must never be refused.
            "CONTACTVAULT_RATE_LIMIT_PER_KEY": BENCH_RATE_LIMIT,
            "CONTACTVAULT_RATE_LIMIT_PER_IP": BENCH_RATE_LIMIT,
            "CONTACTVAULT_RATE_LIMIT_STORAGE": "memory://",
            "CONTACTVAULT_LOG_LEVEL": "WARNING",
        }
    )
    if src:  # another checkout's code: it comes first on the import path
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(src).resolve()), env.get("PYTHONPATH")) if p)
    return [sys.executable, "-m", "contactvault.cli.main", "serve", "--no-worker", "--port", "{port}"], env


def _bare_command() -> tuple[list[str], dict[str, str]]:
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench.directory:bare_app", "--app-dir", str(ROOT)]
    command += ["--host", "127.0.0.1", "--port", "{port}", "--no-access-log", "--log-level", "warning"]
    return command, dict(os.environ)


@contextmanager
def _server(spec: tuple[list[str], dict[str, str]], log: Path) -> Iterator[tuple[str, int]]:
    """Start a server subprocess on a free port; yield its base URL and pid; stop it."""
    port = _free_port()
    command = [part.replace("{port}", str(port)) for part in spec[0]]
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=spec[1], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            _wait_ready(base, proc, log)
            yield base, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            for path in ("/healthz", "/ok"):
                if httpx.get(base + path, timeout=2).status_code == 200:
                    return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # a start-up poll, not a measurement
    raise RuntimeError(f"server at {base} did not answer within 120 s")


@contextmanager
def _profiled(folder: str | None, scenario: Scenario, pid: int, seconds: float) -> Iterator[None]:
    """py-spy on the server while the scenario runs (its warm-up included), then its phase split. The profiler
    competes for the 2 cores: take the table's figures from a run without it."""
    if not folder or not scenario.authorized:
        yield
        return
    out = Path(folder) / (re.sub(r"[^a-z0-9]+", "-", scenario.name.lower()).strip("-") + ".raw")
    out.parent.mkdir(parents=True, exist_ok=True)
    command = ["py-spy", "record", "--pid", str(pid), "--gil", "--format", "raw", "-r", "250"]
    command += ["-d", str(max(1, round(seconds))), "-o", str(out)]  # blocking: consistent stacks
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.wait(timeout=seconds + 60)
    if out.exists():
        _profile_split.main([str(out)])


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------- load


def _measure_wrk(scenario: Scenario, api_key: str, concurrency: int, seconds: float, pid: int) -> Figures:
    """The scenario under wrk: a short warm-up, then ``seconds`` of load (wrk runs by time, not count)."""
    auth = f"Bearer {api_key}" if scenario.authorized else None
    requests: list[tuple[str, str, str | None]] = [("GET", p, None) for p in scenario.paths]
    _wrk.run(scenario.base, requests, authorization=auth, connections=concurrency, seconds=1)  # warm-up
    cpu_before = _cpu_seconds(pid)
    run = _wrk.run(scenario.base, requests, authorization=auth, connections=concurrency, seconds=seconds)
    cpu_after = _cpu_seconds(pid)
    done = max(run.requests, 1)
    server_cpu = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / done * 1e6
    figures = Figures(
        name=scenario.name,
        requests=run.requests,
        errors=run.errors,
        concurrency=concurrency,
        seconds=round(run.seconds, 2),
        p50_ms=round(run.p50_ms, 2),
        p95_ms=round(run.p95_ms, 2),
        p99_ms=round(run.p99_ms, 2),
        mean_ms=round(run.mean_ms, 2),
        per_second=round(run.requests / run.seconds, 1),
        server_cpu_us=None if server_cpu is None else round(server_cpu),
        client_cpu_us=round(run.client_cpu_seconds / done * 1e6),
    )
    print(f"  {scenario.name}: p50 {figures.p50_ms} ms, p95 {figures.p95_ms} ms, {figures.per_second}/s", flush=True)
    return figures


async def _measure(
    scenario: Scenario, api_key: str, concurrency: int, requests: int, seconds: float, pid: int
) -> Figures:
    if _wrk.available():
        return _measure_wrk(scenario, api_key, concurrency, seconds, pid)
    headers = {"Authorization": f"Bearer {api_key}"} if scenario.authorized else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=scenario.base, headers=headers, limits=limits, timeout=60) as client:
        await _load(client, scenario.paths, concurrency, min(requests // 10, 200), seconds)  # warm-up
        cpu_before, client_before = _cpu_seconds(pid), time.process_time()
        started = time.perf_counter()
        latencies, errors = await _load(client, scenario.paths, concurrency, requests, seconds)
        elapsed = time.perf_counter() - started
        cpu_after, client_after = _cpu_seconds(pid), time.process_time()
    done = len(latencies)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    server_cpu = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / done * 1e6
    figures = Figures(
        name=scenario.name,
        requests=done,
        errors=errors,
        concurrency=concurrency,
        seconds=round(elapsed, 2),
        p50_ms=round(cuts[49] * 1000, 2),
        p95_ms=round(cuts[94] * 1000, 2),
        p99_ms=round(cuts[98] * 1000, 2),
        mean_ms=round(statistics.fmean(latencies) * 1000, 2),
        per_second=round(done / elapsed, 1),
        server_cpu_us=None if server_cpu is None else round(server_cpu),
        client_cpu_us=round((client_after - client_before) / done * 1e6),
    )
    print(f"  {scenario.name}: p50 {figures.p50_ms} ms, p95 {figures.p95_ms} ms, {figures.per_second}/s", flush=True)
    return figures


async def _load(
    client: httpx.AsyncClient, paths: list[str], concurrency: int, requests: int, seconds: float
) -> tuple[list[float], int]:
    """Send ``requests`` requests (cycling through ``paths``) from ``concurrency`` tasks, stopping at ``seconds``."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + seconds

    async def one_client() -> None:
        nonlocal issued, errors
        while issued < requests and time.perf_counter() < deadline:
            path = paths[issued % len(paths)]
            issued += 1
            began = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - began)
            if response.status_code != 200:
                errors += 1

    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return latencies, errors


# ---------------------------------------------------------------------------------------------- report


def _report(
    args: argparse.Namespace, *, summary_dict: dict[str, Any], event_people: int, figures: list[Figures]
) -> dict[str, Any]:
    by_name = {f.name: f for f in figures}
    search, alone = by_name[SEARCH], by_name[SEARCH_ALONE]
    balance, bare = by_name["credit balance"], by_name["bare route (async)"]
    share = balance.per_second / bare.per_second if bare.per_second else 0.0
    # The client may be the bottleneck of the bare route; server CPU per request is the capacity each costs.
    cpu_share = bare.server_cpu_us / balance.server_cpu_us if bare.server_cpu_us and balance.server_cpu_us else None
    goals = {
        "contact_search_p95_ms": {
            "goal": f"<= {SEARCH_P95_GOAL_MS}",
            "measured": search.p95_ms,
            "concurrency": search.concurrency,
            "measured_one_client": alone.p95_ms,
        },
        "contact_search_met": search.p95_ms <= SEARCH_P95_GOAL_MS,
        "contact_search_met_one_client": alone.p95_ms <= SEARCH_P95_GOAL_MS,
        "balance_share_of_bare": {
            "goal": f">= {BALANCE_SHARE_GOAL}",
            "measured": round(share, 2),
            "by_server_cpu": None if cpu_share is None else round(cpu_share, 2),
        },
        "balance_share_met": share >= BALANCE_SHARE_GOAL,
    }
    results: dict[str, Any] = {
        "command": "python -m bench directory"
        + (f"  (BENCH_PEOPLE={args.people})" if args.people != DEFAULT_PEOPLE else ""),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "note": "shared, noisy virtual machine; client and servers share its cores",
        },
        "people": summary_dict["people"],
        "load_generator": "wrk" if _wrk.available() else "httpx",
        "load_average": os.getloadavg(),
        "seeding": summary_dict,
        "largest_event_people": event_people,
        "scenarios": [asdict(f) for f in figures],
        "goals": goals,
    }
    results["markdown"] = _markdown(results, figures)
    return results


def _markdown(results: dict[str, Any], figures: list[Figures]) -> str:
    seeding = results["seeding"]
    lines = [
        f"Seeding {seeding['people']:,} people ({seeding['companies']:,} companies, {seeding['events']} events, "
        f"{seeding['attendances']:,} attendances, {seeding['emails']:,} emails, {seeding['phones']:,} phones): "
        f"**{seeding['seconds']:.1f} s**.",
        "",
        "| scenario | clients | requests | errors | p50 ms | p95 ms | p99 ms | req/s | server CPU µs/req "
        "| client CPU µs/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        cpu = "n/a" if f.server_cpu_us is None else f"{f.server_cpu_us:,.0f}"
        lines.append(
            f"| {f.name} | {f.concurrency} | {f.requests:,} | {f.errors} | {f.p50_ms} | {f.p95_ms} | {f.p99_ms} | "
            f"{f.per_second:,.0f} | {cpu} | {f.client_cpu_us:,.0f} |"
        )
    goals = results["goals"]
    search, share = goals["contact_search_p95_ms"], goals["balance_share_of_bare"]
    lines += [
        "",
        f"- contact search p95, goal ≤ {SEARCH_P95_GOAL_MS:g} ms: {search['measured']} ms with "
        f"{search['concurrency']} clients ({'met' if goals['contact_search_met'] else 'MISSED'}), "
        f"{search['measured_one_client']} ms with 1 client "
        f"({'met' if goals['contact_search_met_one_client'] else 'MISSED'})",
        f"- balance throughput {share['measured']:.0%} of the bare route's, goal ≥ {BALANCE_SHARE_GOAL:.0%}: "
        f"{'met' if goals['balance_share_met'] else 'MISSED'}"
        + (
            ""
            if share["by_server_cpu"] is None
            else f" (by server CPU per request, the bare route costs {share['by_server_cpu']:.0%} of what the "
            "balance route does: the capacity ratio once the client stops being the bottleneck)"
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
