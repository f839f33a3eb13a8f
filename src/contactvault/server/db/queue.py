"""The item queue: leased claims (SKIP LOCKED on PostgreSQL; the write lock serialises them on SQLite)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, case, or_, select, update

from contactvault.server.db.bulk import driver_time, executemany
from contactvault.server.db.tables import task_items, tasks
from contactvault.server.domain.tasks import ItemStatus, TaskStatus

_PENDING = ItemStatus.PENDING.value


@dataclass(frozen=True, slots=True)
class ClaimedItem:
    """An item leased to one worker until ``lease_expires_at``."""

    id: int
    task_id: int
    account_id: int
    personnel_id: int
    channel: str
    attempts: int
    lease_owner: str
    verification_min: str | None = None  # the task's floor for values the engine finds


def claim(conn: Connection, lease_owner: str, now: datetime, lease: timedelta, limit: int) -> list[ClaimedItem]:
    """Lease up to ``limit`` due items: pending ones whose time has come, and processing ones whose lease ran out."""
    due = (
        select(task_items.c.id)
        .where(
            or_(
                (task_items.c.status == ItemStatus.PENDING.value) & (task_items.c.next_attempt_at <= now),
                (task_items.c.status == ItemStatus.PROCESSING.value) & (task_items.c.lease_expires_at < now),
            )
        )
        .order_by(task_items.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = conn.execute(
        update(task_items)
        .where(task_items.c.id.in_(due.scalar_subquery()))
        .values(
            status=ItemStatus.PROCESSING.value,
            lease_owner=lease_owner,
            lease_expires_at=now + lease,
            attempts=task_items.c.attempts + 1,
        )
        .returning(
            task_items.c.id,
            task_items.c.task_id,
            task_items.c.account_id,
            task_items.c.personnel_id,
            task_items.c.channel,
            task_items.c.attempts,
        )
    ).all()
    floors = _verification_mins(conn, {r.task_id for r in claimed})
    items = [
        ClaimedItem(
            r.id, r.task_id, r.account_id, r.personnel_id, r.channel, r.attempts, lease_owner, floors.get(r.task_id)
        )
        for r in claimed
    ]
    touch_tasks(conn, {i.task_id for i in items}, now, started=True)
    return sorted(items, key=lambda i: i.id)


def _verification_mins(conn: Connection, task_ids: set[int]) -> dict[int, str | None]:
    """The ``verification_min`` of the tasks that have one set."""
    if not task_ids:
        return {}
    query = select(tasks.c.id, tasks.c.verification_min).where(
        tasks.c.id.in_(sorted(task_ids)), tasks.c.verification_min.is_not(None)
    )
    return {int(r[0]): r[1] for r in conn.execute(query)}


def touch_tasks(conn: Connection, task_ids: Sequence[int] | set[int], now: datetime, *, started: bool = False) -> None:
    """Bump the version of tasks whose items changed (wakes long-polls, changes ETags)."""
    if not task_ids:
        return
    values: dict[str, object] = {"version": tasks.c.version + 1, "updated_at": now}
    if started:
        values["status"] = case(
            (tasks.c.status == TaskStatus.PENDING.value, TaskStatus.PROCESSING.value), else_=tasks.c.status
        )
    # In id order: two claims touching the same tasks must lock them in the same order.
    conn.execute(
        update(tasks).where(tasks.c.id == bindparam("t_id")).values(**values), [{"t_id": t} for t in sorted(task_ids)]
    )


def still_leased(conn: Connection, lease_owner: str, item_ids: Sequence[int], now: datetime) -> set[int]:
    """The items whose lease is still ours (locked against other writers until commit)."""
    query = (
        select(task_items.c.id)
        .where(
            task_items.c.id.in_(item_ids),
            task_items.c.lease_owner == lease_owner,
            task_items.c.status == ItemStatus.PROCESSING.value,
            task_items.c.lease_expires_at > now,
        )
        .order_by(task_items.c.id)  # multi-row locks always in id order
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return {int(i) for (i,) in conn.execute(query)}


def release_leases(conn: Connection, lease_owner: str, item_ids: Sequence[int], now: datetime) -> int:
    """Give leased items back to the queue at once (graceful stop); returns how many were ours."""
    result = conn.execute(
        update(task_items)
        .where(
            task_items.c.id.in_(item_ids),
            task_items.c.lease_owner == lease_owner,
            task_items.c.status == ItemStatus.PROCESSING.value,
        )
        .values(
            status=ItemStatus.PENDING.value,
            lease_owner=None,
            lease_expires_at=None,
            next_attempt_at=now,
            attempts=task_items.c.attempts - 1,
        )
    )
    return int(result.rowcount)


class NewTask(NamedTuple):
    """A task about to be created."""

    id: int
    account_id: int
    event_id: int
    channel: str
    call_source: str
    max_credits: int | None
    credits_held: int
    trace_id: str | None
    verification_min: str | None = None


def create_task(
    conn: Connection, task: NewTask, person_ids: Sequence[int], holds: Sequence[tuple[int, int]], now: datetime
) -> None:
    """Insert a task, its items in order and the bucket parts of its hold."""
    ts = driver_time(conn, now)
    executemany(
        conn,
        "INSERT INTO tasks (id, account_id, event_id, channel, status, call_source, max_credits, item_count,"
        " credits_held, credits_charged, credits_released, unfinished, version, created_at, updated_at, trace_id,"
        " verification_min) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, 0, ?, ?, ?, ?)",
        [
            (
                task.id,
                task.account_id,
                task.event_id,
                task.channel,
                TaskStatus.PENDING.value,
                task.call_source,
                task.max_credits,
                len(person_ids),
                task.credits_held,
                len(person_ids),
                ts,
                ts,
                task.trace_id,
                task.verification_min,
            )
        ],
    )
    enqueue(conn, task.id, task.account_id, task.channel, person_ids, now)
    executemany(
        conn,
        "INSERT INTO task_holds (task_id, seq, bucket_id, amount, settled) VALUES (?, ?, ?, ?, 0)",
        [(task.id, seq, bucket_id, amount) for seq, (bucket_id, amount) in enumerate(holds)],
    )


def enqueue(
    conn: Connection, task_id: int, account_id: int, channel: str, person_ids: Sequence[int], now: datetime
) -> None:
    """Insert a task's items, in order, as one statement (the ids travel as one value)."""
    ts = driver_time(conn, now)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "INSERT INTO task_items (task_id, position, account_id, personnel_id, channel, status, attempts,"
            " next_attempt_at, credits_charged) SELECT %s, t.ord - 1, %s, t.pid, %s, %s, 0, %s, 0"
            " FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(pid, ord)",
            (task_id, account_id, channel, _PENDING, ts, list(person_ids)),
        )
        return
    conn.exec_driver_sql(
        "INSERT INTO task_items (task_id, position, account_id, personnel_id, channel, status, attempts,"
        " next_attempt_at, credits_charged) SELECT ?, key, ?, value, ?, ?, 0, ?, 0 FROM json_each(?)",
        (task_id, account_id, channel, _PENDING, ts, json.dumps(list(person_ids))),
    )
