"""db/settlement.apply: one recorded batch written at once (items, unlocks, holds, task totals), on both backends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import select

from contactvault.server.db import settlement, tables
from contactvault.server.db.settlement import FinalItem, HoldSettled, RetryItem, TaskTotals, UnlockRow
from contactvault.server.runtime import Runtime
from tests.engine import count, submit
from tests.factories import Account


def _task(rt: Runtime, account: Account, people: list[int]) -> tuple[int, Sequence[Any]]:
    """A submitted task and its items (in position order)."""
    task_id = int(str(submit(rt, account, people)["task_id"]))
    with rt.db.read() as conn:
        items = conn.execute(
            select(tables.task_items)
            .where(tables.task_items.c.task_id == task_id)
            .order_by(tables.task_items.c.position)
        ).all()
    return task_id, items


def _unlock(account: Account, task_id: int, item: Any) -> UnlockRow:
    return UnlockRow(
        account.id, item.personnel_id, item.channel, b"sealed", task_id, item.id, "vault", None, None, None
    )


def _row(rt: Runtime, table: Any, key: Any) -> Any:
    with rt.db.read() as conn:
        return conn.execute(select(table).where(key)).one()


def test_a_batch_that_finishes_every_item_completes_the_task(directory: Runtime, account: Account) -> None:
    task_id, items = _task(directory, account, [1, 2])
    before = _row(directory, tables.tasks, tables.tasks.c.id == task_id)
    finals = [
        FinalItem(items[0].id, "unlocked", None, 15, "vault"),
        FinalItem(items[1].id, "failed", "UNRESOLVED", 0, None),
    ]
    with directory.db.write() as conn:
        settlement.apply(
            conn,
            finals,
            [],
            [_unlock(account, task_id, items[0])],
            [HoldSettled(task_id, 0, 30)],
            [TaskTotals(task_id, charged=15, released=15, unfinished=0)],
            directory.clock.now(),
        )
    task = _row(directory, tables.tasks, tables.tasks.c.id == task_id)
    assert (task.status, task.credits_charged, task.credits_released, task.unfinished) == ("completed", 15, 15, 0)
    assert task.completed_at is not None
    assert task.version == before.version + 1
    first = _row(directory, tables.task_items, tables.task_items.c.id == items[0].id)
    second = _row(directory, tables.task_items, tables.task_items.c.id == items[1].id)
    assert (first.status, first.credits_charged, first.source, first.error_code) == ("unlocked", 15, "vault", None)
    assert (second.status, second.credits_charged, second.error_code) == ("failed", 0, "UNRESOLVED")
    assert first.completed_at is not None
    assert (first.lease_owner, first.lease_expires_at) == (None, None)
    unlock = _row(directory, tables.unlocks, tables.unlocks.c.item_id == items[0].id)
    assert (unlock.account_id, unlock.personnel_id, unlock.task_id, unlock.value_encrypted) == (
        account.id,
        items[0].personnel_id,
        task_id,
        b"sealed",
    )
    hold = _row(directory, tables.task_holds, tables.task_holds.c.task_id == task_id)
    assert hold.settled == 30


def test_a_batch_that_leaves_items_unfinished_keeps_the_task_processing(directory: Runtime, account: Account) -> None:
    task_id, items = _task(directory, account, [1, 2, 3])
    later = directory.clock.now() + timedelta(seconds=30)
    with directory.db.write() as conn:
        settlement.apply(
            conn,
            [FinalItem(items[0].id, "unlocked", None, 15, "vault")],
            [RetryItem(items[1].id, later)],
            [_unlock(account, task_id, items[0])],
            [],
            [TaskTotals(task_id, charged=15, released=0, unfinished=2)],
            directory.clock.now(),
        )
    task = _row(directory, tables.tasks, tables.tasks.c.id == task_id)
    assert (task.status, task.unfinished, task.completed_at) == ("processing", 2, None)
    retried = _row(directory, tables.task_items, tables.task_items.c.id == items[1].id)
    assert retried.status == "pending"
    assert retried.next_attempt_at == later
    assert (retried.lease_owner, retried.completed_at) == (None, None)
    untouched = _row(directory, tables.task_items, tables.task_items.c.id == items[2].id)
    assert untouched.status == items[2].status
    assert untouched.next_attempt_at == items[2].next_attempt_at


def test_a_second_unlock_of_the_same_value_fails_the_whole_batch(directory: Runtime, account: Account) -> None:
    task_id, items = _task(directory, account, [1])
    row = _unlock(account, task_id, items[0])
    with directory.db.write() as conn:
        settlement.apply(conn, [], [], [row], [], [], directory.clock.now())
    with pytest.raises(sqlalchemy.exc.IntegrityError), directory.db.write() as conn:
        settlement.apply(
            conn,
            [FinalItem(items[0].id, "unlocked", None, 15, "vault")],
            [],
            [row],
            [],
            [TaskTotals(task_id, charged=15, released=0, unfinished=0)],
            directory.clock.now(),
        )
    assert count(directory, tables.unlocks) == 1
    assert _row(directory, tables.task_items, tables.task_items.c.id == items[0].id).status == items[0].status
    assert _row(directory, tables.tasks, tables.tasks.c.id == task_id).status != "completed"


def test_an_empty_batch_writes_nothing(directory: Runtime, account: Account) -> None:
    task_id, _ = _task(directory, account, [1])
    before = _row(directory, tables.tasks, tables.tasks.c.id == task_id)
    with directory.db.write() as conn:
        settlement.apply(conn, [], [], [], [], [], directory.clock.now())
    assert _row(directory, tables.tasks, tables.tasks.c.id == task_id) == before
    assert count(directory, tables.unlocks) == 0
