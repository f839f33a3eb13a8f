"""Per-provider politeness: keys, concurrency, the gap between session starts, the budget, blocks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from contactvault.server.worker.mail.politeness import (
    InProcessLimiter,
    PolitenessDeferred,
    ProviderLimits,
    provider_key,
)


@pytest.mark.parametrize(
    ("mx_host", "key"),
    [
        ("aspmx.l.google.com", "google.com"),
        ("alt1.aspmx.l.google.com.", "google.com"),
        ("contoso-com.mail.protection.outlook.com", "outlook.com"),
        ("mx1.example.co.uk", "example.co.uk"),
        ("MX.Normal.Test", "normal.test"),
        ("localhost", "localhost"),
    ],
)
def test_the_provider_key_is_the_mx_hosts_registrable_domain(mx_host: str, key: str) -> None:
    assert provider_key(mx_host) == key


class FakeTime:
    """Monotonic time that only moves when a session sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(time: FakeTime, **limits) -> InProcessLimiter:
    values: dict[str, Any] = {
        "concurrency": 1,
        "gap_seconds": 0.0,
        "budget": 100,
        "window_seconds": 3600.0,
        "max_wait_seconds": 1.0,
    }
    values.update(limits)
    return InProcessLimiter(ProviderLimits(**values), now=time, sleep=time.sleep)


def test_sessions_of_one_provider_start_at_least_the_gap_apart() -> None:
    time = FakeTime()
    lim = limiter(time, gap_seconds=0.4)
    starts: list[float] = []

    async def run() -> None:
        for _ in range(3):
            async with lim.session("google.com"):
                starts.append(time.now)
        async with lim.session("outlook.com"):  # another provider does not wait
            starts.append(time.now)

    asyncio.run(run())
    assert starts == [100.0, pytest.approx(100.4), pytest.approx(100.8), pytest.approx(100.8)]
    assert time.slept == [pytest.approx(0.4), pytest.approx(0.4)]


def test_a_wait_longer_than_max_wait_is_deferred_without_using_a_slot() -> None:
    time = FakeTime()
    lim = limiter(time, gap_seconds=5.0, max_wait_seconds=1.0)

    async def run() -> None:
        async with lim.session("google.com"):
            pass
        with pytest.raises(PolitenessDeferred) as deferred:
            async with lim.session("google.com"):
                pytest.fail("no session should start")
        assert deferred.value.retry_after == pytest.approx(5.0)
        assert deferred.value.key == "google.com"
        time.now += 5.0
        async with lim.session("google.com"):  # the deferred attempt reserved nothing
            pass

    asyncio.run(run())
    assert time.slept == []


def test_the_budget_per_window_is_never_exceeded() -> None:
    time = FakeTime()
    lim = limiter(time, budget=2, window_seconds=60.0)

    async def run() -> None:
        for _ in range(2):
            async with lim.session("google.com"):
                pass
        with pytest.raises(PolitenessDeferred) as deferred:
            async with lim.session("google.com"):
                pytest.fail("over budget")
        assert deferred.value.retry_after == pytest.approx(60.0)
        time.now += 59.5
        async with lim.session("google.com"):  # 0.5 s early: waits out the rest of the window
            pass

    asyncio.run(run())
    assert time.slept == [pytest.approx(0.5)]


def test_at_most_concurrency_sessions_run_at_once() -> None:
    lim = InProcessLimiter(ProviderLimits(concurrency=2, gap_seconds=0.0, budget=100, max_wait_seconds=5.0))
    active = 0
    peak = 0
    done = 0

    async def one(release: asyncio.Event) -> None:
        nonlocal active, peak, done
        async with lim.session("google.com"):
            active += 1
            peak = max(peak, active)
            await release.wait()
            active -= 1
            done += 1

    async def run() -> None:
        release = asyncio.Event()
        tasks = [asyncio.create_task(one(release)) for _ in range(5)]
        for _ in range(20):
            await asyncio.sleep(0)  # let every task reach its slot or its wait
        assert active == 2
        release.set()
        await asyncio.gather(*tasks)

    asyncio.run(run())
    assert peak == 2
    assert done == 5


def test_a_full_provider_defers_when_no_slot_frees_in_time() -> None:
    lim = InProcessLimiter(ProviderLimits(concurrency=1, gap_seconds=0.0, max_wait_seconds=0.05))

    async def run() -> None:
        async with lim.session("google.com"):
            with pytest.raises(PolitenessDeferred):
                async with lim.session("google.com"):
                    pytest.fail("the slot is taken")

    asyncio.run(run())


def test_a_blocked_provider_gets_no_session_until_the_block_ends() -> None:
    time = FakeTime()
    lim = limiter(time)

    async def run() -> None:
        await lim.block("blocked.test", 3600)
        with pytest.raises(PolitenessDeferred) as deferred:
            async with lim.session("blocked.test"):
                pytest.fail("blocked")
        assert deferred.value.retry_after == pytest.approx(3600)
        async with lim.session("other.test"):
            pass
        time.now += 3600
        async with lim.session("blocked.test"):
            pass

    asyncio.run(run())


class LateOnce(FakeTime):
    """The first sleep overshoots by ``lateness`` (a busy loop wakes the sleeper late)."""

    def __init__(self, lateness: float) -> None:
        super().__init__()
        self.lateness = lateness

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        self.now += self.lateness
        self.lateness = 0.0


def test_the_gap_counts_from_when_a_session_really_started_after_a_late_wake_up() -> None:
    # A busy event loop wakes a sleeping session late: the provider sees that session start late, so the next one
    # must keep the gap from the real start, not from the scheduled one (the resolution bench saw 2 ms gaps).
    time = LateOnce(0.3)
    lim = limiter(time, gap_seconds=0.4)
    starts: list[float] = []

    async def run() -> None:
        for _ in range(3):
            async with lim.session("google.com"):
                starts.append(time.now)

    asyncio.run(run())
    assert starts[1] == pytest.approx(100.7)  # scheduled at 100.4, woke at 100.7
    assert starts[2] - starts[1] >= 0.4 - 1e-9


def test_the_gap_counts_from_when_the_connection_was_open_when_that_came_later() -> None:
    # A loaded machine can hold a session between the limiter's grant and its connection (the process is not
    # running): the provider sees the connection, so the next session keeps the gap from it.
    time = FakeTime()
    lim = limiter(time, gap_seconds=0.05)
    starts: list[float] = []

    async def run() -> None:
        async with lim.session("google.com"):
            time.now += 0.03  # granted at 100.0, connected at 100.03
            await lim.connected("google.com")
        async with lim.session("google.com"):
            starts.append(time.now)

    asyncio.run(run())
    assert starts == [pytest.approx(100.08)]


def test_a_connection_earlier_than_the_granted_start_changes_nothing() -> None:
    time = FakeTime()
    lim = limiter(time, gap_seconds=0.05)
    starts: list[float] = []

    async def run() -> None:
        async with lim.session("google.com"):
            await lim.connected("google.com")
        async with lim.session("google.com"):
            await lim.connected("google.com")
            starts.append(time.now)
        async with lim.session("google.com"):
            starts.append(time.now)

    asyncio.run(run())
    assert starts == [pytest.approx(100.05), pytest.approx(100.10)]
