"""``Database.read()`` is one snapshot: a write committed between two statements of a read is not seen by the
second (REPEATABLE READ on PostgreSQL; a deferred transaction on SQLite)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from contactvault.server.db.engine import Database
from contactvault.server.runtime import Runtime
from contactvault.server.services.reconcile import reconcile
from tests.engine import drain, submit, task
from tests.factories import Account


@contextmanager
def before_statement(rt: Runtime, marker: str, action: Callable[[], object]) -> Iterator[list[str]]:
    """Run ``action`` (in other transactions) once, just before the first statement containing ``marker``."""
    fired: list[str] = []

    def hook(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if marker in statement and not fired:
            fired.append(statement)
            action()

    event.listen(rt.db.engine, "before_cursor_execute", hook)
    try:
        yield fired
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", hook)


def test_a_task_and_its_items_come_from_one_moment(directory: Runtime, account: Account) -> None:
    task_id = str(submit(directory, account, [1, 2])["task_id"])
    # The task row is read first; the worker settles both items before the items are read.
    with before_statement(directory, "LEFT OUTER JOIN unlocks", lambda: drain(directory)) as fired:
        body = task(directory, account, task_id)
    assert fired
    items: list[dict[str, Any]] = body["items"]
    assert body["taskStatus"] == "pending"
    assert [i["status"] for i in items] == ["pending", "pending"]
    assert sum(i["creditsCharged"] for i in items) == body["creditsCharged"] == 0
    # The next read sees the settled task.
    after = task(directory, account, task_id)
    assert (after["taskStatus"], after["creditsCharged"]) == ("completed", 30)


def test_reconcile_sees_no_false_problems_while_tasks_are_submitted(directory: Runtime, account: Account) -> None:
    # Postings are summed first; a submission commits a hold before the buckets' cached numbers are read.
    with before_statement(directory, "FROM credit_buckets", lambda: submit(directory, account, [3, 4])) as fired:
        result = reconcile(directory)
    assert fired
    assert result.ok, result.problems
    assert reconcile(directory).ok


@pytest.mark.postgresql
def test_a_pooled_connection_goes_back_to_read_committed_read_write_after_a_read(postgres_url: str) -> None:
    db = Database(create_engine(postgres_url, pool_size=1, max_overflow=0))
    try:
        with db.read() as conn:
            assert conn.execute(text("SHOW transaction_isolation")).scalar() == "repeatable read"
            assert conn.execute(text("SHOW transaction_read_only")).scalar() == "on"
        with db.write() as conn:
            assert conn.execute(text("SHOW transaction_isolation")).scalar() == "read committed"
            assert conn.execute(text("SHOW transaction_read_only")).scalar() == "off"
    finally:
        db.dispose()
