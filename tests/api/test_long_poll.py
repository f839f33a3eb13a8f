"""Long-polls (`?wait=N`): capped per key and per process, and free of database reads while the notifier can wake
them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from contactvault.server.api.app import create_app
from contactvault.server.api.routes import contacts
from contactvault.server.db import tables
from contactvault.server.db.pg_notify import PgNotifier
from contactvault.server.notifier import Notifier, WaitSlots
from contactvault.server.runtime import Runtime
from tests.engine import drain, submit
from tests.factories import Account

TASKS = "/external/contacts/unlock-tasks"


def _eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)  # polling another thread's state with a deadline


@contextmanager
def _app(rt: Runtime, *, run_worker: bool = False, **settings: Any) -> Iterator[TestClient]:
    rt.settings = rt.settings.model_copy(update=settings)
    with TestClient(create_app(runtime=rt, run_worker=run_worker), raise_server_exceptions=False) as client:
        yield client


class Poller:
    """A long-poll in a thread of its own."""

    def __init__(self, client: TestClient, account: Account, task_id: object, wait: int = 30) -> None:
        self.response: httpx.Response | None = None
        self._thread = threading.Thread(
            target=self._run, args=(client, f"{TASKS}/{task_id}", wait, account.headers), daemon=True
        )
        self._thread.start()

    def _run(self, client: TestClient, url: str, wait: int, headers: dict[str, str]) -> None:
        self.response = client.get(url, params={"wait": wait}, headers=headers)

    def result(self) -> httpx.Response:
        self._thread.join(timeout=30)
        assert self.response is not None
        return self.response


def _slots(client: TestClient) -> WaitSlots:
    slots = client.app.state.long_polls  # type: ignore[attr-defined]
    assert isinstance(slots, WaitSlots)
    return slots


def test_a_long_poll_over_the_key_cap_is_answered_at_once(
    directory: Runtime, account: Account, other_account: Account
) -> None:
    mine = submit(directory, account, [1])["task_id"]
    theirs = submit(directory, other_account, [2])["task_id"]
    with _app(directory, long_poll_max_per_key=1, long_poll_max_per_node=10) as client:
        holder = Poller(client, account, mine)
        _eventually(lambda: _slots(client).waiting() == 1)
        refused = client.get(f"{TASKS}/{mine}", params={"wait": 30}, headers=account.headers)
        assert refused.status_code == 200
        assert refused.headers["X-Long-Poll"] == "refused-key-cap"
        assert refused.json()["taskStatus"] == "pending"
        assert refused.headers["ETag"]
        # Another key has slots of its own.
        other = Poller(client, other_account, theirs)
        _eventually(lambda: _slots(client).waiting() == 2)
        drain(directory)
        for poll in (holder, other):
            answer = poll.result()
            assert answer.status_code == 200
            assert "X-Long-Poll" not in answer.headers
            assert answer.json()["taskStatus"] in ("processing", "completed")
        assert _slots(client).waiting() == 0


def test_a_long_poll_over_the_node_cap_is_answered_at_once(
    directory: Runtime, account: Account, other_account: Account
) -> None:
    mine = submit(directory, account, [1])["task_id"]
    theirs = submit(directory, other_account, [2])["task_id"]
    with _app(directory, long_poll_max_per_key=10, long_poll_max_per_node=1) as client:
        holder = Poller(client, account, mine)
        _eventually(lambda: _slots(client).waiting() == 1)
        refused = client.get(f"{TASKS}/{theirs}", params={"wait": 30}, headers=other_account.headers)
        assert refused.status_code == 200
        assert refused.headers["X-Long-Poll"] == "refused-node-cap"
        # A refused poll with the current ETag is a 304, still saying it did not wait.
        etag = refused.headers["ETag"]
        again = client.get(
            f"{TASKS}/{theirs}", params={"wait": 30}, headers={**other_account.headers, "If-None-Match": etag}
        )
        assert (again.status_code, again.headers["X-Long-Poll"]) == (304, "refused-node-cap")
        # A plain poll (no wait) is never refused.
        assert "X-Long-Poll" not in client.get(f"{TASKS}/{theirs}", headers=other_account.headers).headers
        drain(directory)
        assert "X-Long-Poll" not in holder.result().headers
        assert _slots(client).waiting() == 0


def test_wait_slots_count_per_key_and_per_node_and_zero_means_no_cap() -> None:
    slots = WaitSlots(per_key=2, per_node=3)
    assert [slots.take("a"), slots.take("a"), slots.take("a")] == [None, None, "key-cap"]
    assert [slots.take("b"), slots.take("c")] == [None, "node-cap"]
    slots.give_back("a")
    assert slots.take("c") is None
    assert (slots.waiting(), slots.waiting("a"), slots.waiting("zzz")) == (3, 1, 0)
    unlimited = WaitSlots(per_key=0, per_node=0)
    assert all(unlimited.take("a") is None for _ in range(1000))


BACKGROUND = ("contactvault-worker", "contactvault-housekeeping")


def test_waiting_reads_the_database_only_when_woken_and_at_the_end(
    directory: Runtime, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were the waiter re-checking on a timer, it would read 20 times a second here.
    monkeypatch.setattr(contacts, "FALLBACK_CHECK_SECONDS", 0.05)
    task_id = submit(directory, account, [1])["task_id"]
    with directory.db.write() as conn:  # not due for an hour: the in-process worker leaves it alone
        conn.execute(update(tables.task_items).values(next_attempt_at=directory.clock.now().replace(year=2099)))
    reads: list[str] = []

    def count_task_reads(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The poll's reads only: not the in-process worker's, nor the housekeeping's (its scheduled reconcile).
        if threading.current_thread().name not in BACKGROUND and "FROM tasks" in statement:
            reads.append(statement)

    with _app(directory, run_worker=True) as client:
        notifier = directory.notifier
        if isinstance(notifier, PgNotifier):
            assert notifier.listening.wait(10)
        assert notifier.hears_every_writer()
        event.listen(directory.db.engine, "before_cursor_execute", count_task_reads)
        try:
            plain = client.get(f"{TASKS}/{task_id}", headers=account.headers)
            per_poll = len(reads)
            reads.clear()
            waited = client.get(f"{TASKS}/{task_id}", params={"wait": 1}, headers=account.headers)
        finally:
            event.remove(directory.db.engine, "before_cursor_execute", count_task_reads)
    assert plain.json()["taskStatus"] == waited.json()["taskStatus"] == "pending"
    assert waited.headers["ETag"] == plain.headers["ETag"]
    assert len(reads) == per_poll + 1  # the poll's own read, and one look when the wait ended


def test_a_woken_long_poll_answers_with_the_change(directory: Runtime, account: Account) -> None:
    task_id = submit(directory, account, [1, 2])["task_id"]
    with _app(directory) as client:
        directory.notifier.worker_in_process = True  # as in `serve`: no timer, only wake-ups
        try:
            poll = Poller(client, account, task_id)
            _eventually(lambda: _slots(client).waiting() == 1)
            drain(directory)
            assert poll.result().json()["taskStatus"] in ("processing", "completed")
        finally:
            directory.notifier.worker_in_process = False


def test_only_an_in_process_worker_makes_every_writer_heard_on_sqlite(directory: Runtime) -> None:
    if isinstance(directory.notifier, PgNotifier):
        pytest.skip("PostgreSQL hears every writer through LISTEN (tests/integration/test_postgres_notify.py)")
    assert isinstance(directory.notifier, Notifier)
    assert not directory.notifier.hears_every_writer()  # `serve --no-worker`: a worker elsewhere may write
    with _app(directory, run_worker=True):
        assert directory.notifier.hears_every_writer()
    assert not directory.notifier.hears_every_writer()
