"""Multi-row writes lock rows in id order, so two transactions touching the same rows cannot wait on each other
in a cycle (the deadlock test on PostgreSQL is tests/integration/test_postgres_lock_order.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from contactvault.server.db.queue import claim
from contactvault.server.runtime import Runtime
from tests.engine import submit
from tests.factories import Account


def test_a_claim_touches_its_tasks_in_id_order(directory: Runtime, account: Account) -> None:
    task_ids = [int(str(submit(directory, account, [pid])["task_id"])) for pid in range(1, 9)]
    assert task_ids != sorted(task_ids)  # the ids are random: submission order is not id order
    touched: list[int] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.startswith("UPDATE tasks SET") and many:
            touched.extend(p[-1] if isinstance(p, tuple) else p["t_id"] for p in parameters)

    event.listen(directory.db.engine, "before_cursor_execute", capture)
    try:
        with directory.db.write() as conn:
            claim(conn, "w#1", directory.clock.now(), timedelta(seconds=30), 100)
    finally:
        event.remove(directory.db.engine, "before_cursor_execute", capture)
    assert sorted(touched) == sorted(task_ids)
    assert touched == sorted(touched)
