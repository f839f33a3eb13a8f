"""Leases fence stale workers; crashes at named fault points lose nothing and charge at most once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from contactvault.server.clock import FakeClock
from contactvault.server.db import tables
from contactvault.server.db.queue import claim
from contactvault.server.domain.errors import InsufficientCredits
from contactvault.server.domain.tasks import RetryPolicy
from contactvault.server.faults import InjectedFault
from contactvault.server.runtime import Runtime
from contactvault.server.services import outcomes
from contactvault.server.worker.pipeline import ResolverChain
from contactvault.server.worker.resolvers.base import Lookup
from contactvault.server.worker.resolvers.vault import VaultResolver
from tests.engine import assert_reconciles, balance, count, drain, submit, task, worker
from tests.factories import Account, make_account


def test_a_worker_whose_lease_expired_cannot_commit(directory: Runtime, account: Account, clock: FakeClock) -> None:
    import asyncio
    import random

    body = submit(directory, account, [1, 2, 3])
    with directory.db.write() as conn:
        stale = claim(conn, "stale#1", clock.now(), timedelta(seconds=30), 100)
    assert len(stale) == 3
    chain = ResolverChain(directory.db, directory.cipher, [VaultResolver(directory.db)], 4)
    answers = asyncio.run(chain.resolve([Lookup(i.id, i.personnel_id, i.channel) for i in stale]))
    clock.advance(31)  # the stale worker was paused past its lease; another takes the items over
    assert drain(directory) == 3
    late = outcomes.record(directory, stale, answers, RetryPolicy(), random.Random(1))
    assert (late.recorded, late.lost) == (0, 3)
    result = task(directory, account, str(body["task_id"]))
    assert result["creditsCharged"] == 45
    assert balance(directory, account) == 10_000 - 45
    assert count(directory, tables.unlocks) == 3
    assert_reconciles(directory)


def test_an_unexpired_lease_is_not_claimed_twice(directory: Runtime, account: Account, clock: FakeClock) -> None:
    submit(directory, account, [1, 2, 3])
    with directory.db.write() as conn:
        first = claim(conn, "a#1", clock.now(), timedelta(seconds=30), 100)
    with directory.db.write() as conn:
        second = claim(conn, "b#1", clock.now(), timedelta(seconds=30), 100)
    assert len(first) == 3
    assert second == []


def test_crash_before_record_commit_loses_nothing(
    directory: Runtime, account: Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = submit(directory, account, [1, 2])
    w = worker(directory)
    monkeypatch.setenv("CONTACTVAULT_FAULT", "before_record_commit")
    assert w.run_once() == 2  # the worker contains the failure: every record attempt rolled back
    w.close()
    monkeypatch.delenv("CONTACTVAULT_FAULT")
    assert [i["status"] for i in task(directory, account, str(body["task_id"]))["items"]] == ["processing"] * 2
    assert count(directory, tables.unlocks) == 0
    clock.advance(31)
    drain(directory)
    result = task(directory, account, str(body["task_id"]))
    assert result["taskStatus"] == "completed"
    assert result["creditsCharged"] == 30
    assert_reconciles(directory)


def test_crash_inside_submission_leaves_no_task_and_no_hold(
    directory: Runtime, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger_rows = count(directory, tables.ledger_entries)
    monkeypatch.setenv("CONTACTVAULT_FAULT", "before_submit_commit")
    with pytest.raises(InjectedFault):
        submit(directory, account, [1, 2])
    assert count(directory, tables.tasks) == 0
    assert count(directory, tables.task_items) == 0
    assert count(directory, tables.ledger_entries) == ledger_rows
    assert balance(directory, account) == 10_000


def test_a_stop_that_arrives_once_the_claim_is_made_finishes_the_batch(
    directory: Runtime, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a supervisor sees: the items are claimed (processing), then it sends SIGTERM. The batch is in hand and
    # must be finished, not handed back (which raced with the claim's commit under load).
    body = submit(directory, account, [1, 2])
    w = worker(directory)

    def claim_then_stop(*args: object, **kwargs: object) -> list[object]:
        items = claim(*args, **kwargs)  # type: ignore[arg-type]
        w.stop()
        return items  # type: ignore[return-value]

    monkeypatch.setattr("contactvault.server.worker.runner.claim", claim_then_stop)
    assert w.run_once() == 2
    w.close()
    assert [i["status"] for i in task(directory, account, str(body["task_id"]))["items"]] == ["unlocked"] * 2


def test_graceful_stop_gives_claimed_items_back(directory: Runtime, account: Account) -> None:
    body = submit(directory, account, [1, 2])
    w = worker(directory)
    w.stop()
    assert w.run_once() == 2  # claimed, then handed back because the worker is stopping
    w.close()
    assert [i["status"] for i in task(directory, account, str(body["task_id"]))["items"]] == ["pending"] * 2
    drain(directory)
    assert task(directory, account, str(body["task_id"]))["taskStatus"] == "completed"


def test_concurrent_submissions_never_overspend(directory: Runtime) -> None:
    acct = make_account(directory, credit=100)  # room for 6 people
    results: list[str] = []
    lock = threading.Lock()

    def submit_pair(n: int) -> None:
        try:
            body = submit(directory, acct, [2 * n + 1, 2 * n + 2])
            outcome = str(body["status"])
        except InsufficientCredits:
            outcome = "402"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=submit_pair, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("accepted") == 3
    assert results.count("402") == 7
    assert balance(directory, acct) == 10
    drain(directory)
    assert_reconciles(directory)


def test_concurrent_submissions_of_the_same_people_hold_once(directory: Runtime, account: Account) -> None:
    bodies: list[dict[str, object]] = []
    lock = threading.Lock()

    def go() -> None:
        body = submit(directory, account, [1, 2, 3])
        with lock:
            bodies.append(body)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for b in bodies if b["status"] == "accepted") == 1
    assert balance(directory, account) == 10_000 - 45
    drain(directory)
    assert balance(directory, account) == 10_000 - 45
    assert_reconciles(directory)


def test_submissions_and_a_worker_together_never_see_database_is_locked(directory: Runtime, account: Account) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()
    w = worker(directory)

    def work() -> None:
        while not stop.is_set():
            try:
                w.run_once()
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)
                return

    def submit_many(offset: int) -> None:
        try:
            for n in range(0, 100, 5):
                submit(directory, account, range(offset + n + 1, offset + n + 6))
        except BaseException as exc:
            errors.append(exc)

    runner = threading.Thread(target=work)
    runner.start()
    submitters = [threading.Thread(target=submit_many, args=(o,)) for o in (0, 100, 200)]
    for t in submitters:
        t.start()
    for t in submitters:
        t.join()
    stop.set()
    runner.join()
    w.close()
    assert errors == []
    drain(directory)
    assert_reconciles(directory)
    assert balance(directory, account) == 10_000 - 15 * count(directory, tables.unlocks)
