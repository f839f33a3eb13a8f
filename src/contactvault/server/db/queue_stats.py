"""Scrape-time reads for the metrics: queue depth by state, the oldest due item, leases run out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from contactvault.server.db.tables import task_items
from contactvault.server.domain.tasks import ItemStatus


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Unfinished items by state, the due time of the oldest pending one, and processing items past their lease."""

    depth: dict[str, int]
    oldest_pending_due: datetime | None
    expired_leases: int


def queue_stats(conn: Connection, now: datetime) -> QueueStats:
    """Counts over the unfinished items only (partial indexes serve every part)."""
    unfinished = (ItemStatus.PENDING.value, ItemStatus.PROCESSING.value)
    depth = dict.fromkeys(unfinished, 0)
    rows = conn.execute(
        select(task_items.c.status, func.count())
        .where(task_items.c.status.in_(unfinished))
        .group_by(task_items.c.status)
    )
    for status, count in rows:
        depth[str(status)] = int(count)
    oldest = conn.execute(
        select(func.min(task_items.c.next_attempt_at)).where(task_items.c.status == ItemStatus.PENDING.value)
    ).scalar()
    expired = conn.execute(
        select(func.count()).where(
            (task_items.c.status == ItemStatus.PROCESSING.value) & (task_items.c.lease_expires_at < now)
        )
    ).scalar_one()
    return QueueStats(depth, oldest, int(expired))
