"""Scheduled housekeeping (docs/operations.md, "Running it"): a thread beside every worker runs each job at most once
per interval across all nodes, and records what each run did for ``admin status`` and the metrics.

One runner at a time: a job runs only under its lease row (``db/housekeeping.take``); every other node skips it
until it is next due. A run that fails is recorded (its exception's class and place, never its message) and tried
again at its next interval; the thread never dies of it.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from contactvault.server import metrics
from contactvault.server.db import housekeeping as schedule
from contactvault.server.db import mail_state, status_reads
from contactvault.server.runtime import Runtime
from contactvault.server.services import console_sessions, expiry, idempotency, quotes, reconcile, retention
from contactvault.server.worker.runner import describe

log = logging.getLogger("contactvault.housekeeping")

# A runner that dies mid-job holds it this long; then another node takes it.
LEASE = timedelta(minutes=10)
# How often the thread looks at its (in-memory) schedule; the database is asked only when a job may be due.
TICK_SECONDS = 1.0
# After the schedule could not be read (the database is down), the thread waits this long before asking again.
RETRY = timedelta(seconds=30)
# A worker's heartbeat row unchanged this long belongs to a worker gone for good: far past ``admin status``'s minute
# and any outage a live worker sits out (its next loop writes the row again), short enough that the table stays the
# size of the fleet. The newest row is always kept: the worker-loop age gauge (and its stale alert) reads it.
HEARTBEAT_RETENTION = timedelta(days=1)
# The scheduled reconcile: its rows are the problems it found (contactvault_ledger_reconcile_problems).
RECONCILE_JOB = "reconcile"


class LedgerDoesNotReconcile(Exception):
    """The reconcile job found problems (their count is the run's rows; the ids are logged)."""

    def __init__(self, problems: int) -> None:
        super().__init__(f"ledger does not reconcile: {problems} problems")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Job:
    """A named job: how often it runs, and what it does (returns the rows it affected)."""

    name: str
    interval: timedelta
    run: Callable[[Runtime], int]


def _purge_expired(rt: Runtime) -> int:
    now = rt.clock.now()
    with rt.db.write() as conn:
        cached = mail_state.purge_expired(conn, now)
        cached += status_reads.forget_workers_before(conn, now - HEARTBEAT_RETENTION)
    return idempotency.purge_expired(rt) + quotes.purge_expired(rt) + console_sessions.purge_expired(rt) + cached


def _expire_credits(rt: Runtime) -> int:
    return expiry.expire_credits(rt).buckets


def _purge_retention(rt: Runtime) -> int:
    return retention.purge_unlock_values(rt).purged


def _reconcile(rt: Runtime) -> int:
    found = reconcile.reconcile(rt)
    if not found.ok:
        log.error("the ledger does not reconcile: %s", "; ".join(found.problems[:20]))
        raise LedgerDoesNotReconcile(len(found.problems))
    return 0


def default_jobs(rt: Runtime) -> list[Job]:
    """The jobs the settings ask for."""
    s = rt.settings
    jobs = [
        Job("credit_expiry", timedelta(seconds=s.expiry_interval_seconds), _expire_credits),
        Job("expired_records", timedelta(seconds=s.idempotency_purge_interval_seconds), _purge_expired),
        Job("retention", timedelta(seconds=s.retention_purge_interval_seconds), _purge_retention),
        Job("audit_retention", timedelta(seconds=s.retention_purge_interval_seconds), retention.purge_audit_rows),
    ]
    if s.reconcile_interval_seconds:
        jobs.append(Job(RECONCILE_JOB, timedelta(seconds=s.reconcile_interval_seconds), _reconcile))
    return jobs


class Housekeeper:
    """Runs the jobs when due; ``run`` loops until ``stop``, ``run_due`` is one pass (what tests call)."""

    def __init__(self, rt: Runtime, jobs: Sequence[Job] | None = None, *, owner: str | None = None) -> None:
        self.rt = rt
        self.jobs = list(jobs if jobs is not None else default_jobs(rt))
        # Unique per runner; not from ``rt.ids``, whose seeded sequence tests rely on.
        self.owner = owner or f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"
        self._ask_at: dict[str, datetime] = {}  # when each job may next be due (skip the database until then)
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Return from ``run`` (a job in progress finishes first)."""
        self._stopping.set()

    def run(self) -> None:
        """Loop until stopped."""
        while not self._stopping.is_set():
            try:
                self.run_due()
            except Exception as exc:  # never dies: run_due contains job and database errors; this is a last resort
                log.error("housekeeping pass failed (%s)", describe(exc))
            self._stopping.wait(TICK_SECONDS)

    def run_due(self) -> list[str]:
        """Run every job that is due and not held by another runner; returns the names of those run."""
        ran: list[str] = []
        for job in self.jobs:
            if self._stopping.is_set():
                break
            now = self.rt.clock.now()
            if now < self._ask_at.get(job.name, now):
                continue
            try:
                with self.rt.db.write() as conn:
                    later = schedule.take(conn, job.name, self.owner, now, LEASE)
            except Exception as exc:  # the database is down: one line, then leave it alone for a while
                log.warning("housekeeping could not reach its schedule (%s); next try in %s", describe(exc), RETRY)
                self._ask_at = {j.name: now + RETRY for j in self.jobs}
                return ran
            if later is not None:
                self._ask_at[job.name] = later
                continue
            self._run(job, now)
            ran.append(job.name)
        return ran

    def _run(self, job: Job, started: datetime) -> None:
        clock_start = time.perf_counter()
        rows: int | None = None
        error: str | None = None
        try:
            rows = job.run(self.rt)
        except LedgerDoesNotReconcile as exc:
            rows, error = exc.problems, str(exc)
        except Exception as exc:
            error = describe(exc)
            log.warning("housekeeping job %s failed (%s); next try in %s", job.name, error, job.interval)
        duration = time.perf_counter() - clock_start
        metrics.HOUSEKEEPING_RUNS.labels(job=job.name, outcome="failed" if error else "ok").inc()
        if rows:
            log.info("housekeeping job %s: %d rows", job.name, rows)
        next_due = started + job.interval
        self._ask_at[job.name] = next_due
        try:
            with self.rt.db.write() as conn:
                kept = schedule.finish(
                    conn,
                    job.name,
                    self.owner,
                    now=self.rt.clock.now(),
                    next_due_at=next_due,
                    duration_seconds=round(duration, 6),
                    rows=rows,
                    error=error,
                )
        except Exception as exc:
            log.warning("housekeeping job %s ran but was not recorded (%s)", job.name, describe(exc))
            return
        if not kept:
            log.warning("housekeeping job %s ran longer than its lease (%s)", job.name, LEASE)
