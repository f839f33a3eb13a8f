"""Split a py-spy profile of the API server into the phases of a request (issue 17's table).

Record with the GIL-holder only (what the Python side costs; SQLite's own work runs without the GIL and is not
sampled): ``py-spy record --pid PID --gil --format raw -r 250 -d 10 -o balance.raw`` while wrk drives one route,
then ``python -m bench._profile_split balance.raw``. Each sample goes to the phase of the innermost frame that
names one (until 2026-11-30 the first phase matching anywhere in the stack won, which gave the middleware the
samples of the routing and response work they wrap).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

IDLE = ("Condition.wait (threading.py", "EpollSelector.select", "select (selectors.py")
HOPS = ("Condition.notify", "current_task (asyncio", "WorkerThread", "Condition.__enter__")
MIDDLEWARE = (
    "api/middleware.py",
    "access_log.py",
    "api/metrics.py",
    "console/security.py",
    "starlette/middleware",
    "fastapi/middleware",
    "prometheus",
)
# (phase, markers of a frame). The innermost frame that matches decides (a sample in the routing under five
# middleware layers is routing); at one frame, the first phase listed. SQLAlchemy's frames never match (its pool
# has a queue.py of its own): a statement belongs to whoever ran it.
PHASES = [
    ("key lookup", ("authenticate_key", "cached_caller")),
    ("key last-used write", ("touch_key",)),
    ("rate limiting", ("ratelimit.py", "limits/")),
    ("route handler", ("_run_sync_endpoint", "/routes/")),
    ("pydantic (parameters)", ("pydantic",)),
    ("dependency injection", ("fastapi/dependencies",)),
    ("thread-pool hops", ("anyio", "starlette/concurrency", "WorkerThread", "queue.py")),
    ("middleware", MIDDLEWARE),
    ("routing", ("fastapi/routing", "starlette/routing")),
    ("uvicorn + event loop", ("uvicorn", "httptools", "asyncio", "runpy")),
]


def phase(frames: list[str]) -> str | None:
    """The phase of one sample; None for a thread waiting (not work)."""
    stack, leaf = ";".join(frames), frames[-1]
    if "Thread.start" in stack or "Timer.run" in stack:
        return "rate limiting"  # limits' memory storage starts an expiry Timer thread
    if leaf.startswith(IDLE):
        return None
    if "uvicorn/" in leaf or "httptools" in leaf:
        return "uvicorn (HTTP parse, transport writes)"
    if leaf.startswith(HOPS) or "anyio/" in leaf:
        return "thread-pool hops"
    for frame in reversed(frames):
        if "sqlalchemy/" in frame:
            continue
        found = next((name for name, marks in PHASES if any(m in frame for m in marks)), None)
        if found is not None:
            return found
    return "other"


def kind(frames: list[str]) -> str:
    """What the code of a key-lookup or handler sample was doing."""
    stack = ";".join(frames)
    if "sqlalchemy/sql/" in stack and ("compiler" in stack or "cache_key" in stack):
        return "SQLAlchemy statement building/compile"
    if "sqlalchemy" in stack or "sqlite3" in stack or "psycopg" in stack:
        return "SQLAlchemy + driver: execute, fetch, transaction, pool"
    if "pydantic" in stack:
        return "pydantic"
    if "orjson" in stack or "mappers.py" in stack:
        return "response mapping"
    return "own Python"


def split(path: Path) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """Samples by phase, and by (phase, kind) inside the key lookup and the handler."""
    phases: Counter[str] = Counter()
    kinds: Counter[tuple[str, str]] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack.strip() or not count.isdigit():
            continue  # a frame name of generated code can hold a newline: its pieces are not samples
        frames = stack.split(";")
        name = phase(frames)
        if name is None:
            continue
        phases[name] += int(count)
        if name in ("key lookup", "route handler"):
            kinds[(name, kind(frames))] += int(count)
    return phases, kinds


def main(argv: list[str]) -> None:
    """Print the split of each file as markdown rows."""
    for arg in argv:
        phases, kinds = split(Path(arg))
        total = sum(phases.values()) or 1
        print(f"{arg}: {total} samples holding the GIL")
        for name, n in phases.most_common():
            print(f"| {name} | {100 * n / total:.1f} % |")
        for (name, what), n in sorted(kinds.items()):
            print(f"|   {name}: {what} | {100 * n / total:.1f} % |")


if __name__ == "__main__":
    main(sys.argv[1:])
