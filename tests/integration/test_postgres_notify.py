"""LISTEN/NOTIFY on PostgreSQL: a change committed by one process wakes the waiters of another."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient
from sqlalchemy import text

from contactvault.server.api.app import create_app
from contactvault.server.api.routes import contacts
from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db import pg_notify
from contactvault.server.db.pg_notify import MAX_PAYLOAD_BYTES, PgNotifier, parse_payload, payloads
from contactvault.server.runtime import Runtime
from tests.engine import drain, submit
from tests.factories import make_account, make_directory

pytestmark = pytest.mark.postgresql


@pytest.fixture
def pg_settings(postgres_url: str, tmp_path: Path) -> Settings:
    """Settings on a fresh PostgreSQL database."""
    return Settings(database_url=postgres_url, encryption_key_file=tmp_path / "keys.json")


@pytest.fixture
def node_a(pg_settings: Settings) -> Iterator[Runtime]:
    """One process's runtime, listening."""
    rt = build_runtime(pg_settings)
    assert isinstance(rt.notifier, PgNotifier)
    rt.notifier.start()
    assert rt.notifier.listening.wait(10)
    yield rt
    rt.notifier.close()
    rt.db.dispose()


@pytest.fixture
def node_b(pg_settings: Settings) -> Iterator[Runtime]:
    """Another process's runtime on the same database (not listening: it only writes)."""
    rt = build_runtime(pg_settings)
    yield rt
    rt.db.dispose()


async def _woken(listener_rt: Runtime, publisher: Runtime, task_id: int) -> bool:
    with listener_rt.notifier.listen(task_id) as listener:
        await asyncio.to_thread(publisher.notifier.publish, [task_id])
        return await listener.wait(5)


def test_payloads_stay_under_the_notify_limit() -> None:
    ids = list(range(10**17, 10**17 + 2000))
    chunks = payloads(ids)
    assert len(chunks) > 1
    assert all(len(c.encode()) <= MAX_PAYLOAD_BYTES for c in chunks)
    assert [i for c in chunks for i in parse_payload(c)] == ids
    assert parse_payload("12,x,,7") == [12, 7]


def test_a_publish_in_one_process_wakes_a_waiter_in_another(node_a: Runtime, node_b: Runtime) -> None:
    assert asyncio.run(_woken(node_a, node_b, 42))


def test_a_submission_elsewhere_wakes_an_idle_worker(node_a: Runtime, node_b: Runtime) -> None:
    node_a.notifier.work.clear()
    node_b.notifier.kick_worker()
    assert node_a.notifier.work.wait(5)


def test_the_listener_reconnects_after_its_connection_is_killed(node_a: Runtime, node_b: Runtime) -> None:
    assert isinstance(node_a.notifier, PgNotifier)
    with node_b.db.write() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%' AND datname = current_database()"
            )
        ).scalar_one()
    assert killed == 1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not asyncio.run(_woken(node_a, node_b, 7)):
        pass
    assert node_a.notifier.listening.is_set()
    assert asyncio.run(_woken(node_a, node_b, 8))


def test_a_long_poll_on_one_node_answers_when_a_worker_elsewhere_records(
    node_b: Runtime, pg_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without NOTIFY the poll would only notice at its fallback check; push that far beyond the test's bound.
    monkeypatch.setattr(contacts, "FALLBACK_CHECK_SECONDS", 60.0)
    make_directory(node_b)
    account = make_account(node_b)
    task_id = submit(node_b, account, range(1, 11))["task_id"]
    api = build_runtime(pg_settings)
    answers: list[tuple[float, dict[str, object]]] = []
    with TestClient(create_app(runtime=api), raise_server_exceptions=False) as client:
        assert isinstance(api.notifier, PgNotifier)
        assert api.notifier.listening.wait(10)

        def poll() -> None:
            started = time.monotonic()
            response = client.get(
                f"/external/contacts/unlock-tasks/{task_id}", params={"wait": 30}, headers=account.headers
            )
            answers.append((time.monotonic() - started, response.json()))

        poller = threading.Thread(target=poll)
        poller.start()
        # The point of this test: the poll has read the task and waits (it holds a long-poll slot) before the work.
        slots = client.app.state.long_polls  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while slots.waiting() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # polling the other thread's state with a deadline (it holds no event to wait on)
        assert slots.waiting() == 1
        assert drain(node_b) == 10
        poller.join(timeout=30)
        assert not poller.is_alive()
    api.db.dispose()
    (elapsed, body), *_ = answers
    assert body["taskStatus"] in ("processing", "completed")
    assert elapsed < 10


def test_a_payload_that_is_not_a_plain_number_is_ignored() -> None:
    # "²" and "٣" pass str.isdigit but int() refuses or misreads them.
    assert parse_payload("²,٣,7," + "9" * 30) == [7]


def test_a_malformed_notification_does_not_stop_the_listener(node_a: Runtime, node_b: Runtime) -> None:
    assert isinstance(node_a.notifier, PgNotifier)
    with node_b.db.write() as conn:
        conn.execute(text("SELECT pg_notify('contactvault_tasks', '²')"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not asyncio.run(_woken(node_a, node_b, 9)):
        pass
    assert asyncio.run(_woken(node_a, node_b, 10))
    assert node_a.notifier.listening.is_set()


def test_any_error_in_the_listener_is_logged_and_it_listens_again(
    node_a: Runtime, node_b: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(node_a.notifier, PgNotifier)
    failures = iter([RuntimeError("listener bug")])

    def flaky_parse(payload: str) -> list[int]:
        for exc in failures:
            raise exc
        return parse_payload(payload)

    monkeypatch.setattr(pg_notify, "parse_payload", flaky_parse)
    with caplog.at_level("WARNING", logger="contactvault.pg_notify"):
        node_b.notifier.publish([11])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not asyncio.run(_woken(node_a, node_b, 12)):
            pass
    assert asyncio.run(_woken(node_a, node_b, 13))
    assert "LISTEN loop failed (RuntimeError); reconnecting" in caplog.text


def test_a_notify_that_fails_in_any_way_never_fails_the_writer(
    node_b: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(node_b.notifier, PgNotifier)

    def no_connection() -> None:
        raise sqlalchemy.exc.TimeoutError("QueuePool limit reached")

    monkeypatch.setattr(node_b.notifier._engine, "connect", no_connection)
    node_b.notifier.publish([1])  # committed work stays committed: the waiters' fallback covers a lost NOTIFY
    node_b.notifier.kick_worker()
