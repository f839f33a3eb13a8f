"""Worker heartbeats (written by the worker loop) and the operator's status reads (``admin status``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select, text, update

from contactvault.server.db.tables import task_items, tasks, worker_heartbeats
from contactvault.server.domain.tasks import ItemStatus


def beat(conn: Connection, worker_id: str, started_at: datetime, now: datetime) -> None:
    """Record that ``worker_id`` completed a loop iteration at ``now``."""
    w = worker_heartbeats
    done = conn.execute(update(w).where(w.c.worker_id == worker_id).values(last_loop_at=now))
    if done.rowcount == 0:
        conn.execute(w.insert().values(worker_id=worker_id, started_at=started_at, last_loop_at=now))


def forget_workers_before(conn: Connection, moment: datetime) -> int:
    """Delete the heartbeats of workers not seen since ``moment``, but never the newest (``newest_loop_at`` reads it);
    returns how many."""
    w = worker_heartbeats
    newest = select(func.max(w.c.last_loop_at)).scalar_subquery()
    return int(conn.execute(w.delete().where(w.c.last_loop_at < moment, w.c.last_loop_at < newest)).rowcount)


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    """A worker loop and when it last completed an iteration."""

    worker_id: str
    started_at: datetime
    last_loop_at: datetime


def workers_since(conn: Connection, moment: datetime) -> list[WorkerSeen]:
    """Workers whose loop completed an iteration at or after ``moment``, most recent first."""
    w = worker_heartbeats
    rows = conn.execute(select(w).where(w.c.last_loop_at >= moment).order_by(w.c.last_loop_at.desc(), w.c.worker_id))
    return [WorkerSeen(str(r.worker_id), r.started_at, r.last_loop_at) for r in rows]


def newest_loop_at(conn: Connection) -> datetime | None:
    """When any worker last completed a loop iteration (None when no worker ever ran)."""
    value: datetime | None = conn.execute(select(func.max(worker_heartbeats.c.last_loop_at))).scalar()
    return value


def items_by_status(conn: Connection) -> dict[str, int]:
    """How many task items are in each status."""
    ti = task_items
    rows = conn.execute(select(ti.c.status, func.count()).group_by(ti.c.status))
    return {str(status): int(n) for status, n in rows}


def oldest_pending_since(conn: Connection) -> datetime | None:
    """When the task of the oldest pending item was submitted (None when nothing is pending)."""
    ti, t = task_items, tasks
    query = select(func.min(t.c.created_at)).select_from(ti.join(t, t.c.id == ti.c.task_id))
    value: datetime | None = conn.execute(query.where(ti.c.status == ItemStatus.PENDING.value)).scalar()
    return value


def finished_since(conn: Connection, moment: datetime) -> dict[str, int]:
    """Items finished at or after ``moment``, by outcome: ``unlocked`` or the failed item's error code."""
    ti = task_items
    outcome = func.coalesce(ti.c.error_code, ti.c.status)
    rows = conn.execute(
        select(outcome, func.count())
        .where(ti.c.completed_at >= moment, ti.c.status.in_((ItemStatus.UNLOCKED.value, ItemStatus.FAILED.value)))
        .group_by(outcome)
    )
    return {str(k): int(n) for k, n in rows}


def database_bytes(conn: Connection) -> int | None:
    """The database's size on disk (PostgreSQL: ``pg_database_size``; SQLite: page count times page size)."""
    if conn.dialect.name == "postgresql":
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    if conn.dialect.name == "sqlite":
        pages = int(conn.execute(text("PRAGMA page_count")).scalar_one())
        return pages * int(conn.execute(text("PRAGMA page_size")).scalar_one())
    return None
