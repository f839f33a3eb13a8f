"""Scheduled housekeeping (worker/housekeeping.py): each job at most once per interval across runners, its last
run recorded for ``admin status`` and the metrics, a failure recorded without stopping the others (FakeClock)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update
from typer.testing import CliRunner

from contactvault.cli.main import app as cli
from contactvault.server.api.app import create_app
from contactvault.server.clock import FakeClock
from contactvault.server.db import housekeeping as schedule
from contactvault.server.db import status_reads, tables
from contactvault.server.domain.ledger import BucketKind
from contactvault.server.runtime import Runtime
from contactvault.server.services import credits, idempotency, status
from contactvault.server.worker.housekeeping import HEARTBEAT_RETENTION, LEASE, Housekeeper, Job
from tests.engine import count, worker
from tests.factories import Account


def _counting(name: str, interval: float, calls: list[str]) -> Job:
    def run(rt: Runtime) -> int:
        calls.append(name)
        return 7

    return Job(name, timedelta(seconds=interval), run)


def _state(rt: Runtime, job: str) -> schedule.JobState:
    with rt.db.read() as conn:
        return next(s for s in schedule.job_states(conn) if s.job == job)


def test_expired_idempotency_records_are_purged_once_per_interval(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    directory.settings = directory.settings.model_copy(
        update={"idempotency_ttl_seconds": 60, "idempotency_purge_interval_seconds": 600}
    )
    idempotency.begin(directory, account.id, "first", b"digest")
    keeper = Housekeeper(directory)
    assert "expired_records" in keeper.run_due()  # the first pass purges: nothing has expired yet
    assert count(directory, tables.idempotency_keys) == 1
    clock.advance(120)
    idempotency.begin(directory, account.id, "second", b"digest")  # expires at 180 s
    assert "expired_records" not in keeper.run_due()  # "first" expired at 60 s, but the purge is due at 600 s
    assert count(directory, tables.idempotency_keys) == 2
    clock.advance(480)
    idempotency.begin(directory, account.id, "third", b"digest")  # expires at 660 s
    keeper.run_due()
    assert count(directory, tables.idempotency_keys) == 1  # only "third" is left
    assert _state(directory, "expired_records").last_rows == 2


def test_heartbeats_of_workers_gone_for_a_day_are_deleted_and_live_workers_still_show(
    directory: Runtime, clock: FakeClock
) -> None:
    start = clock.now()
    with directory.db.write() as conn:
        status_reads.beat(conn, "gone", start, start)
    clock.advance(3600)
    with directory.db.write() as conn:
        status_reads.beat(conn, "quiet", clock.now(), clock.now())  # seen 23 hours before the purge: kept
    clock.advance(HEARTBEAT_RETENTION.total_seconds() - 3600 + 1)
    live = worker(directory, name="live")
    try:
        live.step()
        assert "expired_records" in Housekeeper(directory).run_due()
        assert _heartbeats(directory) == ["live", "quiet"]
        assert _state(directory, "expired_records").last_rows == 1
        assert [w.worker_id for w in status.status(directory).workers] == ["live"]
    finally:
        live.close()
    clock.advance(2 * HEARTBEAT_RETENTION.total_seconds())  # every worker gone: the newest row stays
    Housekeeper(directory).run_due()
    assert _heartbeats(directory) == ["live"]  # the worker-loop age gauge (and its alert) reads it


def _heartbeats(rt: Runtime) -> list[str]:
    with rt.db.read() as conn:
        rows = conn.execute(select(tables.worker_heartbeats.c.worker_id).order_by("worker_id"))
        return [str(r.worker_id) for r in rows]


def test_a_job_runs_once_per_interval_whichever_node_asks(directory: Runtime, clock: FakeClock) -> None:
    calls: list[str] = []
    jobs = [_counting("tidy", 60, calls)]
    one, two = Housekeeper(directory, jobs, owner="node-1"), Housekeeper(directory, jobs, owner="node-2")
    assert (one.run_due(), two.run_due()) == (["tidy"], [])
    clock.advance(59)
    assert (one.run_due(), two.run_due()) == ([], [])
    clock.advance(1)
    assert (two.run_due(), one.run_due()) == (["tidy"], [])
    assert calls == ["tidy", "tidy"]
    state = _state(directory, "tidy")
    assert (state.last_rows, state.last_error, state.lease_owner) == (7, None, None)
    assert (state.last_started_at, state.last_ok_at, state.next_due_at) == (
        clock.now(),
        clock.now(),
        clock.now() + timedelta(seconds=60),
    )


def test_runners_at_the_same_time_run_a_due_job_once(directory: Runtime) -> None:
    calls: list[str] = []
    jobs = [_counting("tidy", 3600, calls)]
    keepers = [Housekeeper(directory, jobs, owner=f"node-{i}") for i in range(4)]
    start = threading.Barrier(len(keepers))
    ran: list[list[str]] = []

    def run(keeper: Housekeeper) -> None:
        start.wait()
        ran.append(keeper.run_due())

    threads = [threading.Thread(target=run, args=(k,)) for k in keepers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(len(r) for r in ran) == [0, 0, 0, 1]
    assert calls == ["tidy"]


def test_the_lease_of_a_runner_that_died_mid_job_expires_and_another_takes_the_job(
    directory: Runtime, clock: FakeClock
) -> None:
    with directory.db.write() as conn:
        assert schedule.take(conn, "tidy", "dead-node", clock.now(), LEASE) is None
    calls: list[str] = []
    keeper = Housekeeper(directory, [_counting("tidy", 60, calls)], owner="live-node")
    assert keeper.run_due() == []
    clock.advance(LEASE.total_seconds())
    assert keeper.run_due() == ["tidy"]
    assert _state(directory, "tidy").lease_owner is None


def test_a_failing_job_is_recorded_by_its_class_never_its_message_and_the_others_run(
    directory: Runtime, clock: FakeClock
) -> None:
    def broken(rt: Runtime) -> int:
        raise ValueError("jane.doe@example.com")

    calls: list[str] = []
    keeper = Housekeeper(directory, [Job("broken", timedelta(seconds=60), broken), _counting("tidy", 60, calls)])
    assert keeper.run_due() == ["broken", "tidy"]
    failed = _state(directory, "broken")
    assert failed.last_error is not None
    assert failed.last_error.startswith("ValueError at test_worker_housekeeping.py:")
    assert "example.com" not in failed.last_error
    assert (failed.last_ok_at, failed.lease_owner, failed.next_due_at) == (
        None,
        None,
        clock.now() + timedelta(seconds=60),
    )
    assert calls == ["tidy"]


def _metrics(rt: Runtime) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with TestClient(create_app(runtime=rt), client=("127.0.0.1", 50000)) as c:
        text = c.get("/metrics").text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_default_jobs_expire_credits_and_reconcile_and_status_shows_every_run(
    directory: Runtime, account: Account, clock: FakeClock, database_url: str
) -> None:
    credits.grant(directory, account.id, 40, BucketKind.GIFT, clock.now() + timedelta(seconds=30))
    clock.advance(30)
    assert Housekeeper(directory).run_due() == [
        "credit_expiry",
        "expired_records",
        "retention",
        "audit_retention",
        "reconcile",
    ]
    seen = {job.job: job for job in status.status(directory).housekeeping}
    assert (seen["credit_expiry"].last_rows, seen["reconcile"].last_rows, seen["reconcile"].last_error) == (1, 0, None)

    env = {"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(directory.settings.encryption_key_file)}
    result = CliRunner().invoke(cli, ["admin", "status", "--db", database_url], env=env)
    assert result.exit_code == 0, result.output
    jobs: list[dict[str, Any]] = json.loads(result.stdout)["housekeeping"]
    expiry = next(j for j in jobs if j["job"] == "credit_expiry")
    assert expiry == {
        "job": "credit_expiry",
        "running": False,
        "lastStartedAt": "2026-01-01T00:00:30Z",
        "lastFinishedAt": "2026-01-01T00:00:30Z",
        "lastOkAt": "2026-01-01T00:00:30Z",
        "durationSeconds": expiry["durationSeconds"],
        "rows": 1,
        "lastError": None,
        "nextDueAt": "2026-01-01T00:01:30Z",
    }
    assert isinstance(expiry["durationSeconds"], float)

    samples = _metrics(directory)
    job = frozenset({("job", "credit_expiry")})
    assert samples[("contactvault_housekeeping_last_rows", job)] == 1
    assert samples[("contactvault_housekeeping_last_failed", job)] == 0
    assert samples[("contactvault_housekeeping_last_success_timestamp_seconds", job)] == clock.now().timestamp()
    assert samples[("contactvault_ledger_reconcile_problems", frozenset())] == 0


def test_a_ledger_that_does_not_reconcile_is_a_failed_run_and_a_metric(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    assert "contactvault_ledger_reconcile_problems" not in {name for name, _ in _metrics(directory)}  # not run yet
    with directory.db.write() as conn:
        conn.execute(update(tables.credit_buckets).values(balance=tables.credit_buckets.c.balance + 1))
    Housekeeper(directory).run_due()
    state = _state(directory, "reconcile")
    assert (state.last_rows, state.last_error, state.last_ok_at) == (1, "ledger does not reconcile: 1 problems", None)
    samples = _metrics(directory)
    assert samples[("contactvault_ledger_reconcile_problems", frozenset())] == 1
    assert samples[("contactvault_housekeeping_last_failed", frozenset({("job", "reconcile")}))] == 1


def test_an_app_that_runs_a_worker_runs_the_housekeeping_too(directory: Runtime) -> None:
    with TestClient(create_app(runtime=directory, run_worker=True)):
        deadline = time.monotonic() + 30
        while not status.status(directory).housekeeping:
            assert time.monotonic() < deadline, "the housekeeping never ran"
            time.sleep(0.05)  # polling the app's housekeeping thread with a deadline


class _DatabaseDown:
    """A database whose every write fails, counting the attempts."""

    def __init__(self) -> None:
        self.attempts = 0

    def write(self) -> Any:
        self.attempts += 1
        raise ConnectionError("connection refused")


def test_a_schedule_it_cannot_reach_is_asked_again_only_after_a_pause(directory: Runtime, clock: FakeClock) -> None:
    calls: list[str] = []
    keeper = Housekeeper(directory, [_counting("tidy", 60, calls)])
    real, down = directory.db, _DatabaseDown()
    directory.db = down  # type: ignore[assignment]
    try:
        assert (keeper.run_due(), keeper.run_due()) == ([], [])
        assert down.attempts == 1  # the second pass left the database alone
    finally:
        directory.db = real
    clock.advance(30)
    assert keeper.run_due() == ["tidy"]
