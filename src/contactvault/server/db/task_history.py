"""Reads behind an account's unlock history: its tasks newest first with their item counts, and the people
(name, title, company) an export names.

The page of tasks walks ``ix_tasks_account (account_id, created_at)`` backwards; the item counts are one grouped
query over the page's tasks (``uq_task_items_task_position`` starts with ``task_id``), so a page costs three
statements whatever the account's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, case, func, select

from contactvault.server.db.bulk import in_ids
from contactvault.server.db.tables import companies, events, personnel, task_items, tasks


@dataclass(frozen=True, slots=True)
class TaskLine:
    """One task of the history, as stored (``event_name`` None when the event is gone)."""

    id: int
    channel: str
    status: str
    event_id: int
    event_name: str | None
    item_count: int
    credits_held: int
    credits_charged: int
    credits_released: int
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ItemCount:
    """How many items of a task are in ``status``, split by whether they were charged."""

    task_id: int
    status: str
    charged: bool
    count: int


@dataclass(frozen=True, slots=True)
class PersonCard:
    """What an export says about a person besides the value: name, title, company."""

    personnel_id: int
    full_name: str
    title: str | None
    company_name: str | None


def task_page(
    conn: Connection, account_id: int, statuses: Sequence[str] | None, limit: int, offset: int
) -> tuple[int, list[TaskLine]]:
    """How many of the account's tasks are in ``statuses`` (any when None), and one page of them, newest first."""
    where = [tasks.c.account_id == account_id]
    if statuses is not None:
        where.append(tasks.c.status.in_(list(statuses)))
    total = int(conn.execute(select(func.count()).select_from(tasks).where(*where)).scalar_one())
    rows = conn.execute(
        select(
            tasks.c.id,
            tasks.c.channel,
            tasks.c.status,
            tasks.c.event_id,
            events.c.name.label("event_name"),
            tasks.c.item_count,
            tasks.c.credits_held,
            tasks.c.credits_charged,
            tasks.c.credits_released,
            tasks.c.created_at,
            tasks.c.completed_at,
        )
        .select_from(tasks.outerjoin(events, events.c.id == tasks.c.event_id))
        .where(*where)
        .order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    lines = [
        TaskLine(
            int(r.id),
            r.channel,
            r.status,
            int(r.event_id),
            r.event_name,
            int(r.item_count),
            int(r.credits_held),
            int(r.credits_charged),
            int(r.credits_released),
            r.created_at,
            r.completed_at,
        )
        for r in rows
    ]
    return total, lines


def item_counts(conn: Connection, task_ids: Sequence[int]) -> list[ItemCount]:
    """Per task, status and charged-or-not: how many items."""
    if not task_ids:
        return []
    charged = case((task_items.c.credits_charged > 0, 1), else_=0).label("charged")
    rows = conn.execute(
        select(task_items.c.task_id, task_items.c.status, charged, func.count().label("n"))
        .where(in_ids(conn, task_items.c.task_id, task_ids))
        .group_by(task_items.c.task_id, task_items.c.status, charged)
    ).all()
    return [ItemCount(int(r.task_id), r.status, bool(r.charged), int(r.n)) for r in rows]


def task_channel(conn: Connection, account_id: int, task_id: int) -> str | None:
    """The channel of a task if this account owns it."""
    row = conn.execute(select(tasks.c.channel).where(tasks.c.id == task_id, tasks.c.account_id == account_id)).first()
    return None if row is None else str(row.channel)


def person_cards(conn: Connection, person_ids: Sequence[int]) -> dict[int, PersonCard]:
    """Name, title and company of these people (the ones that still exist)."""
    if not person_ids:
        return {}
    rows = conn.execute(
        select(personnel.c.id, personnel.c.full_name, personnel.c.title, companies.c.name.label("company_name"))
        .select_from(personnel.outerjoin(companies, companies.c.id == personnel.c.company_id))
        .where(in_ids(conn, personnel.c.id, person_ids))
    ).all()
    return {int(r.id): PersonCard(int(r.id), r.full_name, r.title, r.company_name) for r in rows}
