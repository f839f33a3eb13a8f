"""The housekeeping jobs' shared schedule: one row per job, its lease (one runner at a time across nodes) and what
its last run did (``admin status``, the metrics).

A runner takes a job with one conditional ``UPDATE`` (due, and no unexpired lease): on PostgreSQL a concurrent
runner waits for the row lock and then re-checks the condition on the row the first one wrote, so it finds the
lease taken; on SQLite every write transaction is alone anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Column, Connection, Float, String, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import UTC, metadata

housekeeping_jobs = Table(
    "housekeeping_jobs",
    metadata,
    Column("job", String(32), primary_key=True),
    Column("next_due_at", UTC),  # null: due now
    Column("lease_owner", String(80)),
    Column("lease_expires_at", UTC),
    Column("last_started_at", UTC),
    Column("last_finished_at", UTC),
    Column("last_ok_at", UTC),
    Column("last_duration_seconds", Float),
    Column("last_rows", BigInteger),
    Column("last_error", String(200)),  # the exception's class and place, never its message
)


@dataclass(frozen=True, slots=True)
class JobState:
    """One job's row: when it is due, who runs it now (if anyone), and what its last run did."""

    job: str
    next_due_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_ok_at: datetime | None
    last_duration_seconds: float | None
    last_rows: int | None
    last_error: str | None


def take(conn: Transaction, job: str, owner: str, now: datetime, lease: timedelta) -> datetime | None:
    """Lease ``job`` to ``owner`` if it is due and nobody holds it; returns None when taken, else when to ask again
    (its next due time, or the end of the lease another runner holds)."""
    h = housekeeping_jobs
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(h).values(job=job).on_conflict_do_nothing())
    due = (h.c.next_due_at.is_(None)) | (h.c.next_due_at <= now)
    free = (h.c.lease_expires_at.is_(None)) | (h.c.lease_expires_at <= now)
    taken = conn.execute(
        update(h)
        .where(h.c.job == job, due, free)
        .values(lease_owner=owner, lease_expires_at=now + lease, last_started_at=now)
    )
    if taken.rowcount == 1:
        return None
    row = conn.execute(select(h.c.next_due_at, h.c.lease_expires_at).where(h.c.job == job)).one()
    moments = [m for m in (row.next_due_at, row.lease_expires_at) if m is not None and m > now]
    return max(moments) if moments else now


def finish(
    conn: Transaction,
    job: str,
    owner: str,
    *,
    now: datetime,
    next_due_at: datetime,
    duration_seconds: float,
    rows: int | None,
    error: str | None,
) -> bool:
    """Record a run and give the lease back; False when the lease was no longer ``owner``'s (it ran too long)."""
    h = housekeeping_jobs
    values: dict[str, object] = {
        "lease_owner": None,
        "lease_expires_at": None,
        "next_due_at": next_due_at,
        "last_finished_at": now,
        "last_duration_seconds": duration_seconds,
        "last_rows": rows,
        "last_error": None if error is None else error[:200],
    }
    if error is None:
        values["last_ok_at"] = now
    done = conn.execute(update(h).where(h.c.job == job, h.c.lease_owner == owner).values(**values))
    return bool(done.rowcount)


def job_states(conn: Connection) -> list[JobState]:
    """Every job's row, by name."""
    h = housekeeping_jobs
    return [
        JobState(
            str(r.job),
            r.next_due_at,
            r.lease_owner,
            r.lease_expires_at,
            r.last_started_at,
            r.last_finished_at,
            r.last_ok_at,
            None if r.last_duration_seconds is None else float(r.last_duration_seconds),
            None if r.last_rows is None else int(r.last_rows),
            r.last_error,
        )
        for r in conn.execute(select(h).order_by(h.c.job))
    ]
