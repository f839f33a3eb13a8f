"""Reads of unlock tasks: as their owner sees them (the task, its items joined to their unlocks, its version), and
as settlement needs them (locked, with their hold parts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from contactvault.server.db.tables import events, task_holds, task_items, tasks, unlocks
from contactvault.server.domain.tasks import ItemStatus


def event_exists(conn: Connection, event_id: int) -> bool:
    """Whether the event exists."""
    return conn.execute(select(events.c.id).where(events.c.id == event_id)).first() is not None


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A task's own columns."""

    id: int
    account_id: int
    channel: str
    status: str
    version: int
    credits_held: int
    credits_charged: int
    credits_released: int
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One item of a task, with its unlock when the item is unlocked."""

    personnel_id: int
    status: str
    error_code: str | None
    credits_charged: int
    source: str | None
    completed_at: datetime | None
    unlock_id: int | None
    value_encrypted: bytes | None
    verification_status: str | None
    verification_score: int | None
    checked_at: datetime | None


def task(conn: Connection, task_id: int) -> TaskRow | None:
    """The task, whoever owns it."""
    r = conn.execute(select(tasks).where(tasks.c.id == task_id)).first()
    if r is None:
        return None
    return TaskRow(
        int(r.id),
        int(r.account_id),
        r.channel,
        r.status,
        int(r.version),
        r.credits_held,
        r.credits_charged,
        r.credits_released,
        r.created_at,
        r.completed_at,
    )


def items(conn: Connection, task_id: int) -> list[ItemRow]:
    """The task's items in submission order; an unlocked item carries its unlock's sealed value and verification."""
    rows = conn.execute(
        select(
            task_items.c.personnel_id,
            task_items.c.status,
            task_items.c.error_code,
            task_items.c.credits_charged,
            task_items.c.source,
            task_items.c.completed_at,
            unlocks.c.id.label("unlock_id"),
            unlocks.c.value_encrypted,
            unlocks.c.verification_status,
            unlocks.c.verification_score,
            unlocks.c.checked_at,
        )
        .select_from(
            task_items.outerjoin(
                unlocks,
                (unlocks.c.account_id == task_items.c.account_id)
                & (unlocks.c.personnel_id == task_items.c.personnel_id)
                & (unlocks.c.channel == task_items.c.channel)
                & (task_items.c.status == ItemStatus.UNLOCKED.value),
            )
        )
        .where(task_items.c.task_id == task_id)
        .order_by(task_items.c.position)
    ).all()
    return [
        ItemRow(
            int(r.personnel_id),
            r.status,
            r.error_code,
            r.credits_charged,
            r.source,
            r.completed_at,
            None if r.unlock_id is None else int(r.unlock_id),
            r.value_encrypted,
            r.verification_status,
            r.verification_score,
            r.checked_at,
        )
        for r in rows
    ]


def version(conn: Connection, account_id: int, task_id: int) -> tuple[int, str] | None:
    """A task's version and status, if this account owns it (one indexed row)."""
    row = conn.execute(
        select(tasks.c.version, tasks.c.status).where(tasks.c.id == task_id, tasks.c.account_id == account_id)
    ).first()
    return None if row is None else (int(row.version), row.status)


@dataclass(frozen=True, slots=True)
class HeldTask:
    """A task as settlement reads it: what it holds and what is settled, and its hold parts in order."""

    id: int
    account_id: int
    channel: str
    max_credits: int | None
    credits_held: int
    credits_charged: int
    credits_released: int
    unfinished: int
    parts: list[tuple[int, int, int]]  # (bucket id, amount, settled), in hold order


def held_tasks(conn: Connection, task_ids: Sequence[int]) -> list[HeldTask]:
    """The tasks, locked in id order on PostgreSQL (like every multi-row lock), with their hold parts."""
    query = select(tasks).where(tasks.c.id.in_(task_ids)).order_by(tasks.c.id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    loaded = {
        t.id: HeldTask(
            int(t.id),
            int(t.account_id),
            t.channel,
            t.max_credits,
            t.credits_held,
            t.credits_charged,
            t.credits_released,
            t.unfinished,
            [],
        )
        for t in conn.execute(query)
    }
    holds = (
        select(task_holds).where(task_holds.c.task_id.in_(task_ids)).order_by(task_holds.c.task_id, task_holds.c.seq)
    )
    for h in conn.execute(holds):
        loaded[h.task_id].parts.append((int(h.bucket_id), h.amount, h.settled))
    return list(loaded.values())
