"""Ledger reconciliation: cached balances equal the sums of postings; terminal tasks settled exactly."""

from __future__ import annotations

from dataclasses import dataclass, field

from contactvault.server.db import ledger
from contactvault.server.domain.tasks import TaskStatus
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


def reconcile(rt: Runtime) -> Reconciliation:
    """Check every bucket and every task in one consistent snapshot."""
    result = Reconciliation()
    with rt.db.read() as conn:
        sums = ledger.posting_sums(conn)
        for bucket_id, balance, reserved in ledger.cached_balances(conn):
            result.buckets += 1
            avail, held = sums.get(bucket_id, (0, 0))
            if (avail, held) != (balance, reserved):
                result.problems.append(
                    f"bucket {bucket_id}: cached balance/reserved {balance}/{reserved}, postings {avail}/{held}"
                )
        task_sums = ledger.task_sums(conn)
        task_rows = ledger.task_credits(conn)
    item_charges, unfinished = task_sums.item_charges, task_sums.unfinished_items
    holds, net = task_sums.holds_left, task_sums.reserved_net
    for t in task_rows:
        result.tasks += 1
        left = t.credits_held - t.credits_charged - t.credits_released
        if item_charges.get(t.id, 0) != t.credits_charged:
            result.problems.append(
                f"task {t.id}: items charged {item_charges.get(t.id, 0)}, task says {t.credits_charged}"
            )
        if unfinished.get(t.id, 0) != t.unfinished:
            result.problems.append(f"task {t.id}: {unfinished.get(t.id, 0)} unfinished items, task says {t.unfinished}")
        if holds.get(t.id, 0) != left or net.get(t.id, 0) != left:
            result.problems.append(
                f"task {t.id}: hold left {left}, hold rows {holds.get(t.id, 0)}, ledger {net.get(t.id, 0)}"
            )
        if t.status in _TERMINAL and left != 0:
            result.problems.append(f"task {t.id}: terminal but {left} credits still held")
    return result
