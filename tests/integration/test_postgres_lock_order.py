"""Submissions and settlements on one multi-bucket account never deadlock on PostgreSQL.

Every transaction that touches credit buckets locks them first, in id order (``db/ledger.lock_buckets``), before
any ledger insert takes a foreign-key ``KEY SHARE`` lock on one. Before that rule, a worker's insert of a release
posting on bucket 2 and then a capture on bucket 1, against a submission that had locked bucket 1 and waited for
bucket 2, was a cycle.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.domain.errors import InsufficientCredits
from contactvault.server.domain.ledger import BucketKind
from contactvault.server.runtime import Runtime
from contactvault.server.services import credits
from contactvault.server.worker.runner import Worker
from tests.engine import assert_reconciles, drain, submit, worker
from tests.factories import make_account, make_directory

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

RUN_SECONDS = 12
PEOPLE = 3000  # every 10th has no email: their items fail and release, so the buckets do not run dry


@pytest.fixture
def rt(postgres_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A PostgreSQL runtime with a directory large enough for the run."""
    runtime = build_runtime(
        Settings(database_url=postgres_url, encryption_key_file=tmp_path / "k.json", worker_batch_size=200)
    )
    make_directory(runtime, people=PEOPLE)
    yield runtime
    runtime.db.dispose()


def deadlocks(rt: Runtime) -> int:
    with rt.db.engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int(
            conn.execute(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")).scalar_one()
        )


def test_concurrent_submissions_and_settlements_on_one_account_never_deadlock(rt: Runtime) -> None:
    account = make_account(rt, credit=0)
    now = rt.clock.now()
    # Small leading buckets: a 10-item hold (150) spans two or three of them.
    credits.grant(rt, account.id, 300, BucketKind.SUBSCRIPTION, now + timedelta(days=1))
    credits.grant(rt, account.id, 300, BucketKind.SUBSCRIPTION, now + timedelta(days=2))
    credits.grant(rt, account.id, 300, BucketKind.ADDON)
    credits.grant(rt, account.id, 3000, BucketKind.GIFT)
    before = deadlocks(rt)
    stop = threading.Event()
    errors: list[str] = []
    done = {"submitted": 0, "settled": 0}
    lock = threading.Lock()

    def guarded(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while not stop.is_set():
                try:
                    body()
                except Exception as exc:  # every error is a failure of this test; keep going to count them
                    with lock:
                        errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")

        return run

    def submitter(seed: int) -> Callable[[], None]:
        rng = random.Random(seed)
        deliverable = iter(p for p in range(seed + 1, PEOPLE + 1, 4) if p % 10)

        def one() -> None:
            ids = rng.sample(range(10, PEOPLE + 1, 10), 10)
            if rng.random() < 0.2:
                ids.append(next(deliverable))
            try:
                submit(rt, account, ids)
            except InsufficientCredits:
                return  # every credit is held by tasks in flight: a normal 402
            with lock:
                done["submitted"] += 1

        return one

    workers = [worker(rt, name=f"w{n}") for n in range(2)]

    def settler(w: Worker) -> Callable[[], None]:

        def one() -> None:
            claimed = w.run_once()
            with lock:
                done["settled"] += claimed
            if not claimed:
                stop.wait(0.05)  # nothing due: the worker's idle wait

        return one

    threads = [threading.Thread(target=guarded(submitter(s))) for s in range(4)]
    threads += [threading.Thread(target=guarded(settler(w))) for w in workers]
    for t in threads:
        t.start()
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline and not errors:
        stop.wait(0.2)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    for w in workers:
        w.close()
    assert errors == []
    drain(rt)
    assert done["submitted"] > 0
    assert done["settled"] > 0
    rt.db.dispose()  # backends report their statistics as they exit
    assert deadlocks(rt) == before
    assert_reconciles(rt)
    assert credits.balance(rt, account.id).reserved == 0
    with rt.db.read() as conn:  # the run did exercise holds spanning several buckets
        spanning = conn.execute(
            text("SELECT count(*) FROM (SELECT task_id FROM task_holds GROUP BY task_id HAVING count(*) > 1) s")
        ).scalar_one()
    assert spanning > 0
