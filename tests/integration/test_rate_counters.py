"""``database://`` rate-limit storage: one limit shared by every process on the database, one statement a hit."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from contactvault.server.api.ratelimit import DATABASE_STORAGE, RateLimiter
from contactvault.server.config import Settings
from contactvault.server.db.rate_counters import DatabaseCounters

LimiterFactory = Callable[[list[datetime], int], RateLimiter]


@pytest.fixture
def make_limiter(settings: Settings) -> Iterator[LimiterFactory]:
    """Limiters on ``database://`` storage over the test's database, closed afterwards."""
    made: list[RateLimiter] = []

    def make(now: list[datetime], per_key: int) -> RateLimiter:
        shared = settings.model_copy(update={"rate_limit_storage": DATABASE_STORAGE, "rate_limit_per_key": per_key})
        made.append(RateLimiter.from_settings(shared, now=lambda: now[0]))
        return made[-1]

    yield make
    for limiter in made:
        limiter.close()


def test_two_limiters_on_one_database_share_one_limit_per_key(make_limiter: LimiterFactory) -> None:
    # Two limiters stand for two processes of `serve --workers 2`: each has its own engine on the same database.
    now = [datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)]
    first, second = make_limiter(now, 3), make_limiter(now, 3)
    quotas = [(first if n % 2 else second).hit_key("k1") for n in range(5)]
    assert [q.allowed for q in quotas if q] == [True, True, True, False, False]
    assert [q.remaining for q in quotas if q] == [2, 1, 0, 0, 0]
    assert first.hit_key("k2") is not None
    assert second.hit_key("k2").allowed  # type: ignore[union-attr]
    now[0] += timedelta(seconds=60)  # the next window starts from zero again
    assert [second.hit_key("k1").allowed for _ in range(3)] == [True] * 3  # type: ignore[union-attr]
    assert first.hit_key("k1").allowed is False  # type: ignore[union-attr]


def test_concurrent_hits_from_two_limiters_never_admit_more_than_the_limit(make_limiter: LimiterFactory) -> None:
    now = [datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)]
    limiters = [make_limiter(now, 40), make_limiter(now, 40)]
    start = threading.Barrier(8)

    def hammer(n: int) -> int:
        start.wait()
        admitted = 0
        for _ in range(15):
            quota = limiters[n % 2].hit_key("hot")
            assert quota is not None
            admitted += quota.allowed
        return admitted

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(hammer, range(8))) == 40


def test_rows_of_past_windows_are_pruned(settings: Settings) -> None:
    counters = DatabaseCounters(settings.database_url)
    try:
        for n in range(5):
            assert counters.hit(f"ip/10.0.0.{n}", 100) == 1
        assert counters.hit("ip/10.0.0.0", 100) == 2
        assert counters.hit("ip/10.0.0.9", 101) == 1
        assert counters.hit("ip/10.0.0.9", 102) == 1  # prunes windows before 101: the five callers of window 100
        with counters.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT name, win, hits FROM rate_limit_counters").all()
        assert sorted(tuple(r) for r in rows) == [("ip/10.0.0.9", 102, 1)]
    finally:
        counters.dispose()


def test_an_in_memory_sqlite_database_is_refused() -> None:
    with pytest.raises(ValueError, match="SQLite file"):
        DatabaseCounters("sqlite://")


def test_processes_starting_together_all_get_the_table(settings: Settings) -> None:
    # PostgreSQL answers all but one of concurrent CREATE TABLE IF NOT EXISTS with a unique violation.
    start = threading.Barrier(8)

    def create(_: int) -> int | None:
        start.wait()
        counters = DatabaseCounters(settings.database_url)
        try:
            return counters.hit("k", 1)
        finally:
            counters.dispose()

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(create, range(8))) == list(range(1, 9))  # type: ignore[type-var]
