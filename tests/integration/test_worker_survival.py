"""The worker loop survives any exception in a batch; an item that keeps crashing its batch is isolated and failed
uncharged after the attempt limit, while every other item is delivered and billed exactly."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import select

from contactvault.server import faults
from contactvault.server.clock import FakeClock
from contactvault.server.db import tables
from contactvault.server.db.queue import ClaimedItem
from contactvault.server.runtime import Runtime
from contactvault.server.services import outcomes
from contactvault.server.worker import runner
from contactvault.server.worker.runner import Worker
from tests.engine import assert_reconciles, balance, submit, task, worker
from tests.factories import Account, email_of

POISON = 3  # a person with an email in the test directory (every 10th has none)


def _kinds() -> dict[str, Callable[[], Exception]]:
    # Messages carry personal data on purpose: the worker must log the exception's class, never its text.
    leak = email_of(POISON)
    return {
        "pool-timeout": lambda: sqlalchemy.exc.TimeoutError(f"QueuePool limit reached ({leak})"),
        "statement-error": lambda: sqlalchemy.exc.StatementError(
            "bad bind", "INSERT INTO unlocks VALUES (?)", {"value": leak}, ValueError(leak)
        ),
        "value-error": lambda: ValueError(f"cannot take 15 from the hold ({leak})"),
        "runtime-error": lambda: RuntimeError(f"boom {leak}"),
    }


KINDS = sorted(_kinds())
POINTS = ["after_claim", "record"]


class Injector:
    """Raises at ``after_claim`` for batches that hold the chosen person, or inside the record transaction
    (``before_record_commit``) when that person's answer is being recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, point: str, kind: str, *, person: int | None) -> None:
        self.point = point
        self.make = _kinds()[kind]
        self.person = person  # None: every batch
        self.remaining: int | None = None  # None: every time
        self.fired = 0
        self._armed = False
        real_record = outcomes.record

        def record(
            rt: Runtime, claimed: Sequence[ClaimedItem], answers: Mapping[int, Any], *args: Any
        ) -> outcomes.RecordResult:
            self._armed = any(self._targets(c.personnel_id) and c.id in answers for c in claimed)
            return real_record(rt, claimed, answers, *args)

        monkeypatch.setattr(outcomes, "record", record)
        monkeypatch.setattr(faults, "hit", self.hit)

    def _targets(self, person: int) -> bool:
        return self.person is None or person == self.person

    def hit(self, point: str, subjects: Collection[int] = ()) -> None:
        if self.point == "after_claim" and point == "after_claim":
            due = any(self._targets(p) for p in subjects) if subjects else self.person is None
        elif self.point == "record" and point == "before_record_commit":
            due = self._armed
        else:
            due = False
        if not due or self.remaining == 0:
            return
        if self.remaining is not None:
            self.remaining -= 1
        self.fired += 1
        raise self.make()


def _unfinished(rt: Runtime) -> int:
    with rt.db.read() as conn:
        rows = conn.execute(
            select(tables.task_items.c.id).where(tables.task_items.c.status.in_(("pending", "processing")))
        ).all()
    return len(rows)


def _settle_all(rt: Runtime, clock: FakeClock, w: Worker, rounds: int = 50) -> None:
    """Step the loop, moving the clock past retry delays and leases, until no item is unfinished."""
    for _ in range(rounds):
        w.step()
        if _unfinished(rt) == 0:
            return
        clock.advance(31)
    raise AssertionError("items still unfinished")


def _items(rt: Runtime, account: Account, task_id: object) -> dict[str, dict[str, Any]]:
    return {str(i["personnelId"]): i for i in task(rt, account, str(task_id))["items"]}


@pytest.fixture
def step_worker(directory: Runtime) -> Iterator[Worker]:
    w = worker(directory)
    yield w
    w.close()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("point", POINTS)
def test_an_item_that_keeps_crashing_its_batch_is_isolated_and_failed_uncharged(
    directory: Runtime,
    account: Account,
    clock: FakeClock,
    step_worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    point: str,
    kind: str,
) -> None:
    injector = Injector(monkeypatch, point, kind, person=POISON)
    first = submit(directory, account, [1, 2, POISON, 4, 5])
    second = submit(directory, account, [6, 7, 8])
    with caplog.at_level(logging.INFO, logger="contactvault"):
        _settle_all(directory, clock, step_worker)
    assert injector.fired >= directory.settings.worker_max_attempts
    with directory.db.read() as conn:
        attempts = dict(conn.execute(select(tables.task_items.c.personnel_id, tables.task_items.c.attempts)).all())
    # The crashing item counted one attempt per crash; the others were settled at their first.
    assert attempts == {**dict.fromkeys(range(1, 9), 1), POISON: directory.settings.worker_max_attempts}
    items = _items(directory, account, first["task_id"])
    assert (items[str(POISON)]["status"], items[str(POISON)]["errorCode"]) == ("failed", "TASK_FAILED")
    assert "email" not in items[str(POISON)]
    assert all(items[p]["status"] == "unlocked" for p in ("1", "2", "4", "5"))
    assert all(i["status"] == "unlocked" for i in _items(directory, account, second["task_id"]).values())
    assert task(directory, account, str(first["task_id"]))["creditsCharged"] == 60
    assert task(directory, account, str(second["task_id"]))["creditsCharged"] == 45
    assert balance(directory, account) == 10_000 - 15 * 7
    assert_reconciles(directory)
    # One line per failed batch naming its tasks; never the exception's text (it may carry personal data).
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert failures
    assert any(str(first["task_id"]) in line for line in failures)
    assert email_of(POISON) not in caplog.text
    assert all(r.exc_info is None for r in caplog.records)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("point", POINTS)
def test_a_one_off_failure_of_a_whole_batch_costs_no_item_an_attempt(
    directory: Runtime,
    account: Account,
    clock: FakeClock,
    step_worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
    kind: str,
) -> None:
    injector = Injector(monkeypatch, point, kind, person=None)
    injector.remaining = 1
    body = submit(directory, account, range(1, 9))
    assert step_worker.step() == 8  # no clock movement needed: the halves are settled in the same step
    assert injector.fired == 1
    assert _unfinished(directory) == 0
    result = task(directory, account, str(body["task_id"]))
    assert result["creditsCharged"] == 120
    with directory.db.read() as conn:
        attempts = set(conn.execute(select(tables.task_items.c.attempts)).scalars())
    assert attempts == {1}
    assert_reconciles(directory)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("point", POINTS)
def test_the_worker_thread_survives_any_exception_and_goes_on(
    directory: Runtime, account: Account, monkeypatch: pytest.MonkeyPatch, point: str, kind: str
) -> None:
    injector = Injector(monkeypatch, point, kind, person=None)
    injector.remaining = 2
    w = worker(directory)
    thread = threading.Thread(target=w.run, name="test-worker", daemon=True)
    thread.start()
    try:
        bodies = [submit(directory, account, range(n * 4 + 1, n * 4 + 5)) for n in range(3)]
        deadline = time.monotonic() + 30
        while _unfinished(directory) and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)  # polling another thread's progress with a deadline
        assert thread.is_alive()
        assert _unfinished(directory) == 0
    finally:
        w.stop()
        thread.join(timeout=30)
    assert injector.fired == 2
    unlocked = sum(1 for b in bodies for i in _items(directory, account, b["task_id"]).values() if i.get("email"))
    assert balance(directory, account) == 10_000 - 15 * unlocked
    assert unlocked == 11  # person 10 has no email
    assert_reconciles(directory)


def test_a_claim_that_fails_is_retried_after_a_back_off(
    directory: Runtime, account: Account, step_worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_claim = runner.claim  # type: ignore[attr-defined]
    calls = {"n": 0}

    def flaky_claim(*args: Any, **kwargs: Any) -> list[ClaimedItem]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlalchemy.exc.TimeoutError("QueuePool limit reached")
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(runner, "claim", flaky_claim)
    body = submit(directory, account, [1, 2])
    assert step_worker.step() == 0
    assert step_worker.backoff_seconds() > 0
    assert step_worker.step() == 2
    assert step_worker.backoff_seconds() == 0
    assert task(directory, account, str(body["task_id"]))["taskStatus"] == "completed"


def test_a_batch_that_fails_while_the_database_does_not_answer_is_handed_back(
    directory: Runtime, account: Account, step_worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = directory.db.write
    outage = sqlalchemy.exc.OperationalError("SELECT 1", {}, OSError("connection refused"))

    def down_once(point: str, subjects: Collection[int] = ()) -> None:
        if point != "after_claim":
            return
        monkeypatch.setattr(faults, "hit", lambda *_: None)
        calls = iter([outage])

        @contextmanager
        def write() -> Iterator[Any]:
            for exc in calls:  # the worker's probe finds the database down; later writes work again
                raise exc
            with real_write() as conn:
                yield conn

        monkeypatch.setattr(directory.db, "write", write)
        raise sqlalchemy.exc.OperationalError("SELECT", {}, OSError("server closed the connection"))

    monkeypatch.setattr(faults, "hit", down_once)
    body = submit(directory, account, [1, 2, 3, 4])
    assert step_worker.step() == 0  # the iteration failed: the loop backs off
    assert step_worker.backoff_seconds() > 0
    result = task(directory, account, str(body["task_id"]))
    assert [i["status"] for i in result["items"]] == ["pending"] * 4
    assert step_worker.step() == 4  # handed back at once, not left to a 30 s lease
    with directory.db.read() as conn:
        assert set(conn.execute(select(tables.task_items.c.attempts)).scalars()) == {1}  # the outage cost none
    assert task(directory, account, str(body["task_id"]))["creditsCharged"] == 60
    assert_reconciles(directory)
