"""Opt-out always wins: an erasure or a suppression that starts while a worker is between its opt-out re-check
and its commit waits for that commit, then removes what it stored. Nothing is left revealed, with no need to
"run the erasure again" (PostgreSQL: the suppression gate; SQLite: one writer at a time)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select, text

from contactvault.server import faults
from contactvault.server.db.tables import contact_points, unlocks
from contactvault.server.runtime import Runtime
from contactvault.server.services import erasure
from contactvault.server.services import suppressions as opt_out
from contactvault.server.worker.resolvers.fake import FakeResolver
from tests.engine import assert_reconciles, balance, drain, submit, task
from tests.factories import Account, email_of

PERSON = 3


class WatchedGate:
    """Wraps SQLite's process write gate to tell when another thread is queuing for it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.owner = threading.get_ident()
        self.queued = threading.Event()

    def __enter__(self) -> Any:
        if threading.get_ident() != self.owner:
            self.queued.set()
        return self.inner.__enter__()

    def __exit__(self, *exc: object) -> Any:
        return self.inner.__exit__(*exc)


def waiting_for_a_lock(rt: Runtime) -> bool:
    """Whether a backend of this database waits for a lock (PostgreSQL)."""
    with rt.db.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                    " WHERE NOT l.granted AND d.datname = current_database()"
                )
            ).scalar_one()
        )


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)  # polling a condition with a deadline


@contextmanager
def in_the_record_gap(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, opt_out_action: Callable[[], object]
) -> Iterator[list[object]]:
    """Run ``opt_out_action`` in another thread once the worker has re-checked the opt-out list and is about to
    commit; let the worker commit once the action has finished or is waiting for it."""
    results: list[object] = []
    gate = WatchedGate(rt.db._write_gate)
    monkeypatch.setattr(rt.db, "_write_gate", gate)
    real_hit = faults.hit

    def hit(point: str, subjects: Collection[int] = ()) -> None:
        real_hit(point, subjects)
        if point != "before_record_commit":
            return
        worker = threading.Thread(target=lambda: results.append(opt_out_action()))
        worker.start()
        blocked = gate.queued.is_set if rt.db.is_sqlite else lambda: waiting_for_a_lock(rt)
        wait_until(lambda: not worker.is_alive() or blocked())
        results.append(worker)
        results.append("committed in the gap" if not worker.is_alive() else "waited for the record")

    monkeypatch.setattr(faults, "hit", hit)
    yield results
    for item in results:
        if isinstance(item, threading.Thread):
            item.join(timeout=60)


def stored_values(rt: Runtime, pid: int) -> list[object]:
    with rt.db.read() as conn:
        revealed = conn.execute(select(unlocks.c.value_encrypted).where(unlocks.c.personnel_id == pid)).scalars()
        vault = conn.execute(select(contact_points.c.id).where(contact_points.c.personnel_id == pid)).scalars()
        return [v for v in revealed if v is not None] + list(vault)


def test_an_erasure_started_between_the_recheck_and_the_commit_still_wins(
    directory: Runtime, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = str(submit(directory, account, [PERSON])["task_id"])
    with in_the_record_gap(directory, monkeypatch, lambda: erasure.erase_person(directory, PERSON)) as results:
        drain(directory)
    reports = [r for r in results if isinstance(r, erasure.ErasureReport)]
    assert len(reports) == 1
    assert "waited for the record" in results
    assert stored_values(directory, PERSON) == []  # nothing revealed is left anywhere
    item = task(directory, account, task_id)["items"][0]
    assert "email" not in item or item["email"] is None
    # The delivery committed first, so it is charged and the account is on the list of accounts to tell.
    assert item["creditsCharged"] == 15
    assert reports[0].accounts == [str(account.id)]
    assert reports[0].unlock_values_erased == 1
    assert balance(directory, account) == 10_000 - 15
    assert_reconciles(directory)


def test_a_suppression_started_between_the_recheck_and_the_commit_waits_for_the_commit(
    directory: Runtime, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit(directory, account, [PERSON])
    with in_the_record_gap(directory, monkeypatch, lambda: opt_out.suppress(directory, "email", email_of(PERSON))) as r:
        drain(directory)
    assert "waited for the record" in r
    assert True in r  # the suppression was added once the record had committed


def test_an_address_erasure_in_the_gap_finds_whoever_the_worker_revealed_it_to(
    directory: Runtime, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A resolver found an address the vault never had: only the unlock row can tell who holds it.
    found_elsewhere = f"p{PERSON}@example.test"
    submit(directory, account, [PERSON])
    with in_the_record_gap(
        directory, monkeypatch, lambda: erasure.erase_address(directory, "email", found_elsewhere)
    ) as results:
        drain(directory, [FakeResolver(directory.cipher)])
    report = next(r for r in results if isinstance(r, erasure.ErasureReport))
    assert report.person_ids == [str(PERSON)]
    assert report.accounts == [str(account.id)]
    with directory.db.read() as conn:
        revealed = conn.execute(select(unlocks.c.value_encrypted).where(unlocks.c.personnel_id == PERSON)).scalars()
        assert list(revealed) == [None]
