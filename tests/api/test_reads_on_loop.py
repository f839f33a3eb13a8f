"""Reads on the event loop (issue 17): on a SQLite file the read-only routes read on the loop's own thread, never
through the thread pool, never waiting for a pooled connection and never writing; on PostgreSQL they stay in the
pool."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from contactvault.server.api.app import create_app
from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from tests.engine import count
from tests.factories import BIG_EVENT, Account

READS = {
    "/external/credits/balance": "FROM credit_buckets",
    "/external/contacts/search?company_name=Acme": "FROM personnel",
    f"/external/personnel/list?event_id={BIG_EVENT}": "FROM event_personnel",
    f"/external/events/{BIG_EVENT}": "FROM events",
}


@pytest.fixture
def threads_reading(directory: Runtime) -> Iterator[dict[str, set[str]]]:
    """Per statement marker of READS: the names of the threads that ran a statement holding it."""
    seen: dict[str, set[str]] = {marker: set() for marker in READS.values()}

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        for marker, names in seen.items():
            if marker in statement:
                names.add(threading.current_thread().name)

    event.listen(directory.db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(directory.db.engine, "before_cursor_execute", record)


def test_read_routes_read_on_the_event_loop_only_on_sqlite(
    directory: Runtime, account: Account, threads_reading: dict[str, set[str]]
) -> None:
    with TestClient(create_app(runtime=directory)) as client:
        loop_thread = client.portal.call(lambda: threading.current_thread().name)  # type: ignore[union-attr]
        for path in READS:
            assert client.get(path, headers=account.headers).status_code == 200, path
    for marker, names in threads_reading.items():
        if directory.db.is_sqlite:
            assert names == {loop_thread}, marker
        else:
            assert names, marker
            assert loop_thread not in names, marker  # network reads wait in the thread pool


def test_a_write_on_the_loop_is_refused_and_writes_nothing(directory: Runtime, account: Account) -> None:
    before = count(directory, tables.ledger_entries)
    with directory.db.on_loop(), pytest.raises(RuntimeError, match="event loop"), directory.db.write() as conn:
        conn.execute(tables.ledger_entries.delete())
    assert count(directory, tables.ledger_entries) == before
    with directory.db.write() as conn:  # outside the block, writes go on as before
        conn.execute(select(func.count()).select_from(tables.ledger_entries))


# SQLite only: PostgreSQL's reads wait in the thread pool, where its bounded pool is the right back-pressure.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_read_on_the_loop_never_waits_for_a_pooled_connection(directory: Runtime, account: Account) -> None:
    assert directory.db.reads_on_loop
    with ExitStack() as held:
        for _ in range(45):  # more than 20 kept + 20 overflow, the bound before: every connection is out
            held.enter_context(directory.db.read())
        with directory.db.on_loop(), directory.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(tables.accounts)).scalar_one() >= 1
