"""Probes: ``/healthz`` says the process is alive; ``/readyz`` says it can do its job: the database answers (on
SQLite the file is there, readable, and writable within the probe's time), its schema is current, the keys are the
ones that wrote it, and the in-process worker, when this process runs one, keeps looping."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response

from contactvault.server.api.deps import json
from contactvault.server.db.engine import ping
from contactvault.server.db.readiness import key_problem, schema_problem, sqlite_file_problem
from contactvault.server.runtime import Runtime
from contactvault.server.worker.runner import Worker

router = APIRouter(include_in_schema=False)
# A probe answers within this, whatever the database does (a load balancer gives up after a few seconds).
DATABASE_CHECK_SECONDS = 3.0
# SQLite: how long the file's write lock may stay taken before the probe says so (part of the time above).
SQLITE_LOCK_SECONDS = 2.0


@router.get("/healthz")
def healthz() -> Response:
    """The process is alive (touches nothing)."""
    return json({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """200 ``{"status": "ready"}``, or 503 with the reasons this process should get no traffic."""
    rt: Runtime = request.app.state.runtime
    reasons = []
    database = await database_problem(rt)
    if database:
        reasons.append(database)
    worker: Worker | None = getattr(request.app.state, "worker", None)
    thread: threading.Thread | None = getattr(request.app.state, "worker_thread", None)
    if worker is not None and thread is not None:
        stuck = worker_problem(worker, thread, rt.clock.now())
        if stuck:
            reasons.append(stuck)
    if reasons:
        return json({"status": "not ready", "reasons": reasons}, status_code=503)
    return json({"status": "ready"})


def _check(rt: Runtime) -> str | None:
    if rt.db.is_sqlite:
        path = rt.db.engine.url.database
        if path and path != ":memory:":
            problem = sqlite_file_problem(Path(path), SQLITE_LOCK_SECONDS)
            if problem:
                return problem
    with rt.db.read() as conn:
        ping(conn)
        return schema_problem(conn) or key_problem(conn, rt.cipher.fingerprint())


async def database_problem(rt: Runtime) -> str | None:
    """Why the database cannot serve this process now, or None."""
    try:
        # A thread of the default executor, not the request pool: a hung check is abandoned, not awaited.
        return await asyncio.wait_for(asyncio.to_thread(_check, rt), DATABASE_CHECK_SECONDS)
    except TimeoutError:
        return f"database did not answer within {DATABASE_CHECK_SECONDS:g} s"
    except Exception as exc:
        return f"database unreachable ({type(exc).__name__})"


def worker_problem(worker: Worker, thread: threading.Thread, now: datetime) -> str | None:
    """Why the in-process worker is not doing its job, or None."""
    if not thread.is_alive():
        return "worker thread has stopped"
    stalled = worker.stalled_for(now)
    if stalled is not None:
        lease = worker.lease.total_seconds()
        return f"worker loop has not completed an iteration for {stalled:.0f} s (lease {lease:g} s)"
    return None
