"""An account's unlock history (every task, both channels, newest first) and what its exports need besides the
services they are built on: a task's channel, and the people's names.

It returns typed values (``TaskSummary`` in a ``directory.Page``, ``PersonCard``) so the console, the API or the
CLI can render them their own way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contactvault.server.db import task_history as q
from contactvault.server.db.task_history import PersonCard
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.tasks import ItemStatus, TaskStatus
from contactvault.server.runtime import Runtime
from contactvault.server.services.directory import Page, PageRequest, page_of

__all__ = ["HistoryFilter", "PersonCard", "TaskSummary", "list_tasks", "people", "recent_tasks", "task_channel"]


class HistoryFilter(StrEnum):
    """Which tasks a history page lists."""

    ALL = "all"
    RUNNING = "running"
    FINISHED = "finished"

    def statuses(self) -> tuple[str, ...] | None:
        """The task statuses this filter keeps (None: every one)."""
        if self is HistoryFilter.ALL:
            return None
        finished = self is HistoryFilter.FINISHED
        return tuple(s.value for s in TaskStatus if s.is_terminal == finished)


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """One task of the history: what it asked for, how its items stand, and its credits.

    ``people`` are the chargeable people the task was created for (skipped ids never become items);
    ``unlocked`` were delivered and charged, ``free`` delivered without a charge (already unlocked by another
    task), ``failed`` ended without a value (never charged), ``in_progress`` are not finished yet."""

    task_id: int
    channel: Channel
    status: TaskStatus
    event_id: int
    event_name: str | None
    created_at: datetime
    completed_at: datetime | None
    people: int
    unlocked: int
    free: int
    failed: int
    in_progress: int
    credits_held: int
    credits_charged: int
    credits_released: int

    @property
    def terminal(self) -> bool:
        """Whether the task has finished."""
        return self.status.is_terminal

    @property
    def delivered(self) -> int:
        """People whose value was delivered, charged or free."""
        return self.unlocked + self.free

    @property
    def still_held(self) -> int:
        """Credits the task still holds for its unfinished people."""
        return self.credits_held - self.credits_charged - self.credits_released


def list_tasks(
    rt: Runtime, account_id: int, page: PageRequest, status: HistoryFilter = HistoryFilter.ALL
) -> Page[TaskSummary]:
    """A page of the account's unlock tasks (both channels), newest first."""
    with rt.db.read() as conn:
        total, lines = q.task_page(conn, account_id, status.statuses(), page.size, page.offset)
        counts = q.item_counts(conn, [line.id for line in lines])
    return page_of([_summary(line, counts) for line in lines], total, page)


def recent_tasks(rt: Runtime, account_id: int, limit: int = 5) -> Sequence[TaskSummary]:
    """The account's ``limit`` most recent tasks."""
    return list_tasks(rt, account_id, PageRequest(1, limit)).items


def _summary(line: q.TaskLine, counts: Sequence[q.ItemCount]) -> TaskSummary:
    mine = [c for c in counts if c.task_id == line.id]

    def number(status: ItemStatus, charged: bool | None = None) -> int:
        return sum(c.count for c in mine if c.status == status and (charged is None or c.charged == charged))

    return TaskSummary(
        task_id=line.id,
        channel=Channel(line.channel),
        status=TaskStatus(line.status),
        event_id=line.event_id,
        event_name=line.event_name,
        created_at=line.created_at,
        completed_at=line.completed_at,
        people=line.item_count,
        unlocked=number(ItemStatus.UNLOCKED, charged=True),
        free=number(ItemStatus.UNLOCKED, charged=False),
        failed=number(ItemStatus.FAILED),
        in_progress=number(ItemStatus.PENDING) + number(ItemStatus.PROCESSING),
        credits_held=line.credits_held,
        credits_charged=line.credits_charged,
        credits_released=line.credits_released,
    )


def task_channel(rt: Runtime, account_id: int, task_id: int) -> Channel:
    """The channel of one of the account's tasks; another account's (or no) task is not found."""
    with rt.db.read() as conn:
        channel = q.task_channel(conn, account_id, task_id)
    if channel is None:
        raise NotFound("Task not found.")
    return Channel(channel)


def people(rt: Runtime, person_ids: Sequence[int]) -> dict[int, PersonCard]:
    """Name, title and company of these people (a person no longer in the directory is absent)."""
    with rt.db.read() as conn:
        return q.person_cards(conn, sorted(set(person_ids)))
