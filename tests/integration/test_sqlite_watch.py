"""``serve --workers N`` on SQLite: a commit made by another process wakes this process's long-polls on that task.

The other process is stood for by a plain sqlite3 connection of its own (what ``data_version`` tells apart).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.sqlite_watch import SqliteNotifier
from contactvault.server.runtime import Runtime
from tests.engine import submit
from tests.factories import make_account, make_directory


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[Runtime, str]]:
    """A runtime as a child of ``serve --workers 2`` builds it, and its SQLite file."""
    path = str(tmp_path / "cv.db")
    settings = Settings(database_url=f"sqlite:///{path}", encryption_key_file=tmp_path / "k.json", serve_workers=2)
    rt = build_runtime(settings)
    try:
        yield rt, path
    finally:
        rt.notifier.close()
        rt.db.dispose()


def _bump(path: str, task_id: int) -> None:
    """Another process's commit that moves one task on."""
    with sqlite3.connect(path, isolation_level=None) as other:
        other.execute("UPDATE tasks SET version = version + 1 WHERE id = ?", (task_id,))
    other.close()


def test_another_process_commit_wakes_only_the_waiters_of_that_task(two_processes: tuple[Runtime, str]) -> None:
    rt, path = two_processes
    assert isinstance(rt.notifier, SqliteNotifier)
    make_directory(rt)
    account = make_account(rt)
    first, second = (int(str(submit(rt, account, [n])["task_id"])) for n in (1, 2))
    assert not rt.notifier.hears_every_writer()  # not started: the poll route would re-check every second
    rt.notifier.start()
    assert rt.notifier.watching.wait(10)
    assert rt.notifier.hears_every_writer()

    async def main() -> tuple[bool, bool, bool]:
        with rt.notifier.listen(first) as a, rt.notifier.listen(second) as b:
            await a.wait(0.5)  # the wake-everyone of the watcher's start, if it came after the registration
            await b.wait(0.5)
            # Nothing committed: nobody is woken (the watcher reads versions once for the fresh waiters, no more).
            idle = await a.wait(0.3)
            await asyncio.to_thread(_bump, path, second)
            return idle, await b.wait(10), await a.wait(0.3)

    idle, woken, other = asyncio.run(main())
    assert (idle, woken, other) == (False, True, False)


def test_a_waiter_registered_just_before_a_commit_is_woken(two_processes: tuple[Runtime, str]) -> None:
    rt, path = two_processes
    make_directory(rt)
    account = make_account(rt)
    task_id = int(str(submit(rt, account, [1])["task_id"]))
    rt.notifier.start()
    assert isinstance(rt.notifier, SqliteNotifier)
    assert rt.notifier.watching.wait(10)

    async def main() -> list[bool]:
        woken = []
        for _ in range(20):  # registrations and commits at every phase of the watcher's tick
            with rt.notifier.listen(task_id) as listener:
                await asyncio.to_thread(_bump, path, task_id)
                woken.append(await listener.wait(10))
        return woken

    assert asyncio.run(main()) == [True] * 20


def test_the_worker_process_doorbell_rings_on_a_commit_elsewhere(two_processes: tuple[Runtime, str]) -> None:
    rt, path = two_processes
    make_directory(rt)
    task_id = int(str(submit(rt, make_account(rt), [1])["task_id"]))
    rt.notifier.worker_in_process = True
    rt.notifier.start()
    assert isinstance(rt.notifier, SqliteNotifier)
    assert rt.notifier.watching.wait(10)
    rt.notifier.work.clear()
    _bump(path, task_id)  # e.g. a submission through a sibling process
    assert rt.notifier.work.wait(10)


def test_one_process_keeps_the_plain_notifier(tmp_path: Path) -> None:
    rt = build_runtime(Settings(database_url=f"sqlite:///{tmp_path}/one.db", encryption_key_file=tmp_path / "k"))
    try:
        assert not isinstance(rt.notifier, SqliteNotifier)
    finally:
        rt.db.dispose()
