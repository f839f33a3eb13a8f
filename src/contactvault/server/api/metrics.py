"""``/metrics``: the Prometheus exposition (requests are counted and timed in ``access_log.py``).

Access (docs/operations.md, "What to watch"): with ``CONTACTVAULT_METRICS_TOKEN`` set, a scrape must send
``Authorization: Bearer <token>``; without it, only loopback clients are answered (404 to everyone else), so a
node bound beyond loopback exposes nothing until the operator chooses a token.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress

from fastapi import APIRouter, Request
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException
from starlette.responses import Response

from contactvault.server import metrics
from contactvault.server.db import housekeeping, status_reads
from contactvault.server.db.queue_stats import queue_stats
from contactvault.server.runtime import Runtime
from contactvault.server.worker.housekeeping import RECONCILE_JOB

router = APIRouter(include_in_schema=False)
# A scrape answers within this, whatever the database does; the queue gauges are then left out.
QUEUE_READ_SECONDS = 3.0


def _queue_registry(rt: Runtime) -> CollectorRegistry:
    """Gauges read from the database now: the queue as every worker sees it, the workers' newest loop and the
    housekeeping jobs' last runs (one value for the whole service, whichever process is scraped)."""
    now = rt.clock.now()
    with rt.db.read() as conn:
        stats = queue_stats(conn, now)
        newest_loop = status_reads.newest_loop_at(conn)
        jobs = housekeeping.job_states(conn)
    registry = CollectorRegistry()
    _housekeeping_gauges(registry, jobs)
    if newest_loop is not None:
        Gauge(
            "contactvault_worker_last_loop_age_seconds",
            "Seconds since any worker last completed a loop iteration (as recorded, at most every 10 s)",
            registry=registry,
        ).set(max(0.0, (now - newest_loop).total_seconds()))
    depth = Gauge("contactvault_queue_items", "Unfinished task items, by state", ["state"], registry=registry)
    for state, count in stats.depth.items():
        depth.labels(state=state).set(count)
    oldest = Gauge(
        "contactvault_queue_oldest_pending_seconds",
        "How long the oldest pending item has been due (0 when none is)",
        registry=registry,
    )
    due = stats.oldest_pending_due
    oldest.set(max(0.0, (now - due).total_seconds()) if due is not None else 0.0)
    Gauge(
        "contactvault_queue_expired_leases",
        "Items still processing whose lease has run out (a worker died or stalls)",
        registry=registry,
    ).set(stats.expired_leases)
    return registry


def _housekeeping_gauges(registry: CollectorRegistry, jobs: list[housekeeping.JobState]) -> None:
    """Each job's last run, by job name; the ledger's last reconcile result on its own gauge."""
    labels = ["job"]
    success = Gauge(
        "contactvault_housekeeping_last_success_timestamp_seconds",
        "When the job last ran without an error (Unix time)",
        labels,
        registry=registry,
    )
    finished = Gauge(
        "contactvault_housekeeping_last_run_timestamp_seconds",
        "When the job last finished (Unix time)",
        labels,
        registry=registry,
    )
    duration = Gauge(
        "contactvault_housekeeping_last_duration_seconds",
        "How long the job's last run took",
        labels,
        registry=registry,
    )
    rows = Gauge("contactvault_housekeeping_last_rows", "Rows the job's last run affected", labels, registry=registry)
    failed = Gauge(
        "contactvault_housekeeping_last_failed",
        "1 when the job's last run ended in an error",
        labels,
        registry=registry,
    )
    for job in jobs:
        if job.last_finished_at is None:
            continue
        finished.labels(job=job.job).set(job.last_finished_at.timestamp())
        if job.last_ok_at is not None:
            success.labels(job=job.job).set(job.last_ok_at.timestamp())
        duration.labels(job=job.job).set(job.last_duration_seconds or 0.0)
        rows.labels(job=job.job).set(job.last_rows or 0)
        failed.labels(job=job.job).set(1 if job.last_error else 0)
        if job.job == RECONCILE_JOB and job.last_rows is not None:  # absent until a reconcile has run
            Gauge(
                "contactvault_ledger_reconcile_problems",
                "Problems the last scheduled ledger reconcile found (0: it reconciles)",
                registry=registry,
            ).set(job.last_rows)


def _allowed(request: Request, token: str) -> bool:
    if token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics")
async def scrape(request: Request) -> Response:
    """The Prometheus text exposition; to a caller it is not for, the 404 of a path that does not exist."""
    rt: Runtime = request.app.state.runtime
    if not _allowed(request, rt.settings.metrics_token):
        raise HTTPException(404)
    try:
        extra = await asyncio.wait_for(asyncio.to_thread(_queue_registry, rt), QUEUE_READ_SECONDS)
    except Exception:  # the database is down or slow: the process's own metrics still answer
        extra = None
    return Response(metrics.exposition(extra), media_type=CONTENT_TYPE_LATEST)
