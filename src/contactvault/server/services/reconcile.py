"""Ledger reconciliation: cached balances equal the sums of postings; terminal tasks settled exactly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, func, select

from contactvault.server.db import ledger
from contactvault.server.db.tables import credit_buckets, ledger_entries, task_holds, task_items, tasks
from contactvault.server.domain.tasks import UNFINISHED_ITEM_STATUSES, TaskStatus
from contactvault.server.runtime import Runtime

_TERMINAL = {s.value for s in TaskStatus if s.is_terminal}


@dataclass
class Reconciliation:
    """What a reconciliation found; ``ok`` when there are no problems."""

    buckets: int = 0
    tasks: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether everything reconciles."""
        return not self.problems


def _by_task(conn: Connection, query: Select[Any]) -> dict[int, int]:
    return {int(k): int(v) for k, v in conn.execute(query)}


def reconcile(rt: Runtime) -> Reconciliation:
    """Check every bucket and every task in one consistent snapshot."""
    result = Reconciliation()
    with rt.db.read() as conn:
        sums = ledger.posting_sums(conn)
        for b in conn.execute(select(credit_buckets.c.id, credit_buckets.c.balance, credit_buckets.c.reserved)):
            result.buckets += 1
            avail, reserved = sums.get(b.id, (0, 0))
            if (avail, reserved) != (b.balance, b.reserved):
                result.problems.append(
                    f"bucket {b.id}: cached balance/reserved {b.balance}/{b.reserved}, postings {avail}/{reserved}"
                )
        item_charges = _by_task(
            conn,
            select(task_items.c.task_id, func.sum(task_items.c.credits_charged)).group_by(task_items.c.task_id),
        )
        unfinished = _by_task(
            conn,
            select(task_items.c.task_id, func.count())
            .where(task_items.c.status.in_([s.value for s in UNFINISHED_ITEM_STATUSES]))
            .group_by(task_items.c.task_id),
        )
        holds = _by_task(
            conn,
            select(task_holds.c.task_id, func.sum(task_holds.c.amount - task_holds.c.settled)).group_by(
                task_holds.c.task_id
            ),
        )
        net = _by_task(
            conn,
            select(ledger_entries.c.task_id, func.sum(ledger_entries.c.reserved_delta))
            .where(ledger_entries.c.task_id.is_not(None))
            .group_by(ledger_entries.c.task_id),
        )
        for t in conn.execute(select(tasks)):
            result.tasks += 1
            left = t.credits_held - t.credits_charged - t.credits_released
            if item_charges.get(t.id, 0) != t.credits_charged:
                result.problems.append(
                    f"task {t.id}: items charged {item_charges.get(t.id, 0)}, task says {t.credits_charged}"
                )
            if unfinished.get(t.id, 0) != t.unfinished:
                result.problems.append(
                    f"task {t.id}: {unfinished.get(t.id, 0)} unfinished items, task says {t.unfinished}"
                )
            if holds.get(t.id, 0) != left or net.get(t.id, 0) != left:
                result.problems.append(
                    f"task {t.id}: hold left {left}, hold rows {holds.get(t.id, 0)}, ledger {net.get(t.id, 0)}"
                )
            if t.status in _TERMINAL and left != 0:
                result.problems.append(f"task {t.id}: terminal but {left} credits still held")
    return result
