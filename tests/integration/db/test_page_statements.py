"""A page of people costs the same statements whatever its length: the ids of a page travel as one bound value
on SQLite, so SQLAlchemy compiles each statement once instead of once per page length."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from contactvault.server.runtime import Runtime
from contactvault.server.services import directory as people
from contactvault.server.services.directory import PageRequest
from tests.factories import Account

BIG_EVENT = 100


def statements_of_pages(rt: Runtime, account: Account, sizes: list[int]) -> list[list[str]]:
    """The SQL text of every statement each page (one per size) ran, and the pages' people, checked."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", record)
    runs = []
    try:
        for size in sizes:
            seen.clear()
            page = people.list_personnel(rt, account.id, BIG_EVENT, PageRequest(1, size))
            assert len(page.items) == size
            search = people.search_contacts(rt, account.id, PageRequest(1, size), company_name="Acme Widgets GmbH")
            assert len(search.items) == size
            runs.append(list(seen))
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", record)
    return runs


def test_pages_of_any_length_run_the_same_statements(directory: Runtime, account: Account) -> None:
    runs = statements_of_pages(directory, account, [1, 2, 5, 17])
    assert len({len(run) for run in runs}) == 1  # the same number of statements for every page length
    if directory.db.is_sqlite:
        assert all(run == runs[0] for run in runs), [s for run in runs for s in run if s not in runs[0]][:3]
