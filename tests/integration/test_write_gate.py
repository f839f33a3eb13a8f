"""SQLite writers of different processes hand over through an flock of ``<database>-writer.lock`` (WriteGate), not
through SQLite's sleeping busy handler. Two ``Database`` objects open the lock file separately, exactly as two
processes do (flock locks belong to the open file, not to the process)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from contactvault.server.db.engine import Database, WriteGate, make_engine
from contactvault.server.db.migrate import upgrade
from contactvault.server.db.tables import accounts

BLOCKED_FOR = 0.3  # long enough to show a waiter is held; the waiter is released by an event, not by time


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    url = f"sqlite:///{tmp_path}/gate.db"
    first, second = Database(make_engine(url)), Database(make_engine(url))
    upgrade(first.engine)
    yield first, second
    first.dispose()
    second.dispose()


def _account(name: str) -> dict[str, object]:
    return {"id": abs(hash(name)) % 10**9 + 1, "name": name, "created_at": datetime.now(UTC)}


def _write_in_thread(db: Database, name: str) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def write() -> None:
        with db.write() as conn:
            conn.execute(insert(accounts).values(**_account(name)))
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    return thread, done


def test_a_second_node_writes_the_moment_the_first_lets_go(two_nodes: tuple[Database, Database]) -> None:
    first, second = two_nodes
    with first.write() as conn:
        conn.execute(insert(accounts).values(**_account("first")))
        thread, done = _write_in_thread(second, "second")
        assert not done.wait(BLOCKED_FOR)  # queued at the gate while the first holds it
    assert done.wait(10)
    thread.join()
    with first.read() as conn:
        assert sorted(conn.execute(select(accounts.c.name)).scalars()) == ["first", "second"]


def test_a_nested_write_keeps_the_gate_until_the_outermost_ends(two_nodes: tuple[Database, Database]) -> None:
    first, second = two_nodes
    gate = first._write_gate
    assert isinstance(gate, WriteGate)
    with gate:
        with gate:  # the holding thread passes again
            pass
        thread, done = _write_in_thread(second, "second")
        assert not done.wait(BLOCKED_FOR)  # the inner exit did not let the other node in
    assert done.wait(10)
    thread.join()


def test_a_failed_write_lets_the_next_writer_in(two_nodes: tuple[Database, Database]) -> None:
    first, second = two_nodes

    def fail() -> None:
        with first.write() as conn:
            conn.execute(insert(accounts).values(**_account("rolled back")))
            raise LookupError("the transaction fails half way")

    with pytest.raises(LookupError):
        fail()
    thread, done = _write_in_thread(second, "second")
    assert done.wait(10)
    thread.join()
    with first.read() as conn:
        assert conn.execute(select(accounts.c.name)).scalars().all() == ["second"]
