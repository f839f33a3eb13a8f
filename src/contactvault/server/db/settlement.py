"""Writing a recorded batch: item outcomes, unlocks, hold settlement and task totals, set at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection

from contactvault.server.db.bulk import driver_time, executemany
from contactvault.server.domain.tasks import ItemStatus, task_status_after


class FinalItem(NamedTuple):
    """An item that reached a terminal state."""

    item_id: int
    status: str
    error_code: str | None
    credits_charged: int
    source: str | None


class RetryItem(NamedTuple):
    """An item going back to the queue after a transient failure, or a deferral (``gives_back_attempt``: the
    claim's attempt is returned, so greylisting or a politeness wait never brings the item closer to its limit)."""

    item_id: int
    next_attempt_at: datetime
    gives_back_attempt: bool = False


class UnlockRow(NamedTuple):
    """A value revealed to an account."""

    account_id: int
    personnel_id: int
    channel: str
    value_encrypted: bytes | None
    task_id: int
    item_id: int
    source: str | None
    verification_status: str | None
    verification_score: int | None
    checked_at: datetime | None


class TaskTotals(NamedTuple):
    """A task's running totals after the batch."""

    task_id: int
    charged: int
    released: int
    unfinished: int


class HoldSettled(NamedTuple):
    """How much of one part of a task's hold is settled."""

    task_id: int
    seq: int
    settled: int


def apply(
    conn: Connection,
    finals: Sequence[FinalItem],
    retries: Sequence[RetryItem],
    unlock_rows: Sequence[UnlockRow],
    holds: Sequence[HoldSettled],
    totals: Sequence[TaskTotals],
    now: datetime,
) -> None:
    """Write the batch (in the caller's transaction)."""
    ts = driver_time(conn, now)
    executemany(
        conn,
        "UPDATE task_items SET status = ?, error_code = ?, credits_charged = ?, source = ?, completed_at = ?,"
        " lease_owner = NULL, lease_expires_at = NULL WHERE id = ?",
        [(f.status, f.error_code, f.credits_charged, f.source, ts, f.item_id) for f in finals],
    )
    executemany(
        conn,
        "UPDATE task_items SET status = ?, next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL,"
        " attempts = attempts - ? WHERE id = ?",
        [
            (ItemStatus.PENDING.value, driver_time(conn, r.next_attempt_at), int(r.gives_back_attempt), r.item_id)
            for r in retries
        ],
    )
    # No ON CONFLICT: a second unlock of the same (account, person, channel) must fail the whole batch.
    executemany(
        conn,
        "INSERT INTO unlocks (account_id, personnel_id, channel, value_encrypted, task_id, item_id, source,"
        " verification_status, verification_score, checked_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*u[:9], driver_time(conn, u.checked_at), ts) for u in unlock_rows],
    )
    executemany(
        conn,
        "UPDATE task_holds SET settled = ? WHERE task_id = ? AND seq = ?",
        [(h.settled, h.task_id, h.seq) for h in holds],
    )
    statuses = [task_status_after(t.unfinished) for t in totals]  # the completion rule lives in the domain
    executemany(
        conn,
        "UPDATE tasks SET credits_charged = ?, credits_released = ?, unfinished = ?, status = ?, completed_at = ?,"
        " version = version + 1, updated_at = ? WHERE id = ?",
        [
            (t.charged, t.released, t.unfinished, s.value, ts if s.is_terminal else None, ts, t.task_id)
            for t, s in zip(totals, statuses, strict=True)
        ],
    )
