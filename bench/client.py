"""Client workflow benchmark (issue 4): a 1,000-person unlock with long-poll versus the fixed poll schedule.

One embedded server (API + in-process worker on a temporary SQLite file, uvicorn on 127.0.0.1, the same
process as the client), one seeded directory of 2,200 people at one event, one account. Two runs of the SDK
workflow (``client.unlock_emails``: look up, precheck, balance, 10 submissions of 100, wait, reconcile), each on
1,000 distinct people:

* long-poll: the default client, which polls tasks with ``?wait=30`` (answered when the task changes);
* fixed schedule: ``Client(long_poll=0)``, which never sends ``wait`` and sleeps 3 s, 5 s, 10 s, 20 s between
  polls (the SDK's fallback for servers without long-poll).

The runs take alternate people of the same list, so both walk the same number of personnel pages and differ
only in how they wait. Requests are counted with an httpx event hook. Rate limits are off so that neither run
waits for a rate-limit window.

Run: ``python -m bench client``. Writes bench/results/client.json.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from contactvault.cli.client.demo import embedded_server
from contactvault.client import Client

ORDER = 40  # after the unlock benchmark, in issue order
RESULTS = Path(__file__).parent / "results"
SEEDED = 2_200
PER_RUN = 1_000
CREDITS = 100_000


def kind_of(request: httpx.Request) -> str:
    """Which part of the workflow a request belongs to."""
    path = request.url.path
    if "/unlock-tasks/" in path or "/unlock-phone-tasks/" in path:
        return "poll"
    return {
        "/external/personnel/list": "lookup",
        "/external/personnel/profile": "lookup",
        "/external/actions/precheck": "precheck",
        "/external/credits/balance": "balance",
        "/external/contacts/unlock": "submit",
    }.get(path, "other")


def run_workflow(base_url: str, api_key: str, event_id: str, ids: list[str], *, long_poll: float) -> dict[str, Any]:
    """One unlock of ``ids``; wall time, requests by kind, and what was delivered and charged."""
    counts: Counter[str] = Counter()
    sleeps: list[float] = []

    def count(request: httpx.Request) -> None:
        counts[kind_of(request)] += 1

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    with (
        tempfile.TemporaryDirectory() as tmp,
        httpx.Client(event_hooks={"request": [count]}) as http,
        Client(api_key, base_url=base_url, http_client=http, long_poll=long_poll, sleep=sleep) as client,
    ):
        started = time.perf_counter()
        result = client.unlock_emails(event_id, ids, state_file=Path(tmp) / "state.db")
        wall = time.perf_counter() - started
    if result.status != "completed" or result.reconciliation is None or not result.reconciliation.ok:
        raise RuntimeError(f"the run did not complete cleanly: {result.status}, {result.reconciliation}")
    return {
        "people": len(ids),
        "wall_s": round(wall, 2),
        "requests": sum(counts.values()),
        "requests_by_kind": dict(sorted(counts.items())),
        "polls_per_task": round(counts["poll"] / max(1, len(result.task_ids)), 2),
        "client_sleep_s": round(sum(sleeps), 1),
        "tasks": len(result.task_ids),
        "delivered": len(result.delivered),
        "failed": result.failed_count,
        "charged": result.reconciliation.charged,
    }


def main() -> None:
    """Seed, run both workflows on the same server, print a table and write bench/results/client.json."""
    print(f"seeding {SEEDED:,} people at one event and starting the embedded server...", flush=True)
    limits_off = {"rate_limit_per_key": 0, "rate_limit_per_ip": 0}
    with embedded_server(people=SEEDED, events=1, credits=CREDITS, settings=limits_off) as server:
        with Client(server.api_key, base_url=server.base_url) as client:
            (event,) = client.events.list().items
            people = [person.id for person in client.personnel.iter(event.id)][: 2 * PER_RUN]
        if len(people) < 2 * PER_RUN:
            raise RuntimeError(f"need {2 * PER_RUN} people at the event, found {len(people)}")
        print(f"long-poll run on {PER_RUN:,} people...", flush=True)
        long_poll = run_workflow(server.base_url, server.api_key, event.id, people[0::2], long_poll=30.0)
        print(f"fixed-schedule run on {PER_RUN:,} other people...", flush=True)
        fixed = run_workflow(server.base_url, server.api_key, event.id, people[1::2], long_poll=0.0)
    results = {
        "seeded_people": SEEDED,
        "people_per_run": PER_RUN,
        "long_poll": long_poll,
        "fixed_schedule": fixed,
        "wall_ratio_fixed_over_long_poll": round(fixed["wall_s"] / long_poll["wall_s"], 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "client.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(long_poll, fixed))


def table(long_poll: dict[str, Any], fixed: dict[str, Any]) -> str:
    """The two runs side by side, as a Markdown table."""
    rows = [
        ("wall time", f"{long_poll['wall_s']} s", f"{fixed['wall_s']} s"),
        ("requests (total)", long_poll["requests"], fixed["requests"]),
        ("task polls", long_poll["requests_by_kind"].get("poll", 0), fixed["requests_by_kind"].get("poll", 0)),
        ("polls per task", long_poll["polls_per_task"], fixed["polls_per_task"]),
        ("client sleeping", f"{long_poll['client_sleep_s']} s", f"{fixed['client_sleep_s']} s"),
        ("tasks", long_poll["tasks"], fixed["tasks"]),
        (
            "delivered / failed",
            f"{long_poll['delivered']} / {long_poll['failed']}",
            f"{fixed['delivered']} / {fixed['failed']}",
        ),
        ("credits charged", long_poll["charged"], fixed["charged"]),
    ]
    lines = [
        f"| {PER_RUN:,}-person workflow | long-poll (`wait=30`) | fixed 3/5/10/20 s schedule |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {a} | {b} |" for name, a, b in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
