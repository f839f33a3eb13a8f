"""Real worker processes killed (SIGKILL) or paused (SIGSTOP) mid-flight: nothing lost, nobody charged twice."""

from __future__ import annotations

import random
import signal
import time

import pytest
from sqlalchemy import select

from contactvault.server.config import Settings
from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from tests.e2e import processes
from tests.engine import assert_reconciles, balance, count, submit, task
from tests.factories import Account

pytestmark = pytest.mark.slow


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    assert settings.encryption_key_file is not None
    return processes.env_for(
        settings.database_url, settings.encryption_key_file, **{"CONTACTVAULT_WORKER_LEASE_SECONDS": "1", **extra}
    )


def _statuses(rt: Runtime) -> dict[str, int]:
    with rt.db.read() as conn:
        rows = conn.execute(select(tables.task_items.c.status)).scalars().all()
    return {s: rows.count(s) for s in set(rows)}


def _all_terminal(rt: Runtime) -> bool:
    return set(_statuses(rt)) <= {"unlocked", "failed"}


def _assert_charged_once(rt: Runtime, account: Account) -> None:
    unlocked = count(rt, tables.unlocks)
    assert unlocked > 0
    assert balance(rt, account) == 10_000 - 15 * unlocked
    with rt.db.read() as conn:
        charged = conn.execute(select(tables.task_items.c.credits_charged)).scalars().all()
    assert sum(charged) == 15 * unlocked
    assert_reconciles(rt)


@pytest.mark.parametrize("point", ["after_claim", "after_resolve", "before_record_commit"])
def test_worker_killed_at_a_fault_point_loses_nothing(
    directory: Runtime, account: Account, settings: Settings, point: str
) -> None:
    body = submit(directory, account, range(1, 41))
    crashed = processes.worker(_env(settings, CONTACTVAULT_FAULT=f"{point}:exit"))
    assert crashed.wait(timeout=60) == 137
    processes.stop(crashed)
    assert _statuses(directory) == {"processing": 40}
    rescuer = processes.worker(_env(settings))
    try:
        processes.wait_until(lambda: _all_terminal(directory))
    finally:
        processes.stop(rescuer)
    assert task(directory, account, str(body["task_id"]))["taskStatus"] == "completed"
    _assert_charged_once(directory, account)


def test_workers_killed_at_random_moments_charge_each_person_once(
    directory: Runtime, account: Account, settings: Settings
) -> None:
    for start in range(1, 251, 50):
        submit(directory, account, range(start, start + 50))
    env = _env(settings, CONTACTVAULT_WORKER_BATCH_SIZE="7")
    rng = random.Random(11)
    for _ in range(4):
        victim = processes.worker(env)
        time.sleep(rng.uniform(0.8, 1.6))  # a random moment to kill at: the point of this test
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        processes.stop(victim)
    finisher = processes.worker(env)
    try:
        processes.wait_until(lambda: _all_terminal(directory), timeout=90)
    finally:
        processes.stop(finisher)
    assert count(directory, tables.unlocks) == 225  # every 10th person has no email
    _assert_charged_once(directory, account)


def test_a_paused_worker_cannot_commit_after_its_lease_expired(
    directory: Runtime, account: Account, settings: Settings
) -> None:
    body = submit(directory, account, range(1, 21))
    sleeper = processes.worker(_env(settings, CONTACTVAULT_FAULT="after_resolve:sleep=2"))
    try:
        processes.wait_until(lambda: _statuses(directory) == {"processing": 20})
        sleeper.send_signal(signal.SIGSTOP)
        rescuer = processes.worker(_env(settings))
        try:
            processes.wait_until(lambda: _all_terminal(directory))
        finally:
            processes.stop(rescuer)
        charged_before = task(directory, account, str(body["task_id"]))["creditsCharged"]
        sleeper.send_signal(signal.SIGCONT)
        # The woken worker tries to record, finds its lease gone and says so.
        assert sleeper.stderr is not None
        seen = b""
        deadline = time.monotonic() + 30
        while b"lease lost" not in seen and time.monotonic() < deadline:
            seen += sleeper.stderr.readline()
        assert b"lease lost on 20 items" in seen
    finally:
        processes.stop(sleeper)
    assert task(directory, account, str(body["task_id"]))["creditsCharged"] == charged_before == 15 * 18
    _assert_charged_once(directory, account)


def test_sigterm_finishes_the_batch_in_hand_then_exits(
    directory: Runtime, account: Account, settings: Settings
) -> None:
    body = submit(directory, account, range(1, 21))
    worker = processes.worker(
        _env(settings, CONTACTVAULT_FAULT="after_resolve:sleep=2", CONTACTVAULT_WORKER_LEASE_SECONDS="30")
    )
    try:
        processes.wait_until(lambda: _statuses(directory) == {"processing": 20})
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        processes.stop(worker)
    # The batch was recorded before the worker left, not abandoned to a 30 s lease.
    assert task(directory, account, str(body["task_id"]))["taskStatus"] == "completed"
    _assert_charged_once(directory, account)


def test_a_standalone_worker_survives_an_item_that_keeps_failing_its_batch(
    directory: Runtime, account: Account, settings: Settings
) -> None:
    # Person 7's batches raise right after every claim: the process goes on, isolates it, delivers the rest.
    body = submit(directory, account, range(1, 21))
    worker = processes.worker(
        _env(settings, CONTACTVAULT_FAULT="after_claim:raise@7", CONTACTVAULT_WORKER_MAX_ATTEMPTS="3")
    )
    try:
        processes.wait_until(lambda: _all_terminal(directory))
        assert worker.poll() is None
    finally:
        processes.stop(worker)
    items = {i["personnelId"]: i for i in task(directory, account, str(body["task_id"]))["items"]}
    assert (items["7"]["status"], items["7"]["errorCode"]) == ("failed", "TASK_FAILED")
    assert sum(1 for i in items.values() if i["status"] == "unlocked") == 17  # 10 and 20 have no email
    _assert_charged_once(directory, account)
