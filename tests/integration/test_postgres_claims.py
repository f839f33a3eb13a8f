"""Claims on PostgreSQL: several workers, each on its own connection pool as separate processes would be,
drain one queue together; SKIP LOCKED gives every item to exactly one of them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db import queue, tables
from contactvault.server.runtime import Runtime
from contactvault.server.worker import runner
from tests.engine import assert_reconciles, balance, count, submit, worker
from tests.factories import make_account, make_directory

pytestmark = pytest.mark.postgresql

WORKERS = 4


@pytest.fixture
def runtimes(postgres_url: str, tmp_path: Path) -> Iterator[list[Runtime]]:
    """One runtime (engine, pool) per worker, on one database."""
    settings = Settings(
        database_url=postgres_url, encryption_key_file=tmp_path / "keys.json", worker_batch_size=9, database_pool_size=2
    )
    built = [build_runtime(settings) for _ in range(WORKERS)]
    yield built
    for rt in built:
        rt.db.dispose()


def test_workers_on_separate_pools_never_share_an_item(
    runtimes: list[Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = runtimes[0]
    make_directory(first)
    account = make_account(first)
    for start in range(1, 301, 60):
        submit(first, account, range(start, start + 60))
    claimed: Counter[int] = Counter()
    lock = threading.Lock()
    real_claim = runner.claim  # type: ignore[attr-defined]

    def recording_claim(*args: object, **kwargs: object) -> list[queue.ClaimedItem]:
        items = real_claim(*args, **kwargs)  # type: ignore[arg-type]
        with lock:
            claimed.update(i.id for i in items)
        return items

    monkeypatch.setattr(runner, "claim", recording_claim)
    statements: list[str] = []
    event.listen(first.db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    barrier = threading.Barrier(WORKERS)
    drained: list[int] = []

    def drain(rt: Runtime, name: str) -> None:
        w = worker(rt, name=name)
        barrier.wait()
        try:
            drained.append(w.drain())
        finally:
            w.close()

    threads = [threading.Thread(target=drain, args=(rt, f"w{n}")) for n, rt in enumerate(runtimes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(drained) == 300
    assert len(claimed) == 300
    assert set(claimed.values()) == {1}, "an item was claimed twice"
    assert any("FOR UPDATE SKIP LOCKED" in sql for sql in statements)
    assert sum(1 for n in drained if n) > 1, "one worker did everything: nothing ran concurrently"
    with first.db.read() as conn:
        statuses = set(conn.execute(select(tables.task_items.c.status)).scalars())
    assert statuses <= {"unlocked", "failed"}
    assert count(first, tables.unlocks) == 270  # every 10th person has no email
    assert balance(first, account) == 10_000 - 15 * 270
    assert_reconciles(first)
