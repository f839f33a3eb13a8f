"""Scale-out: two workers share each mail provider's politeness and the MX / catch-all caches through the database.

Every test reads the traffic the loopback mail world recorded (connections, RCPTs, DNS questions), and each shows
a control that does see the traffic, so none can pass with the shared state silently out of the path.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from contactvault.server.db.tables import mail_cache
from contactvault.server.demo.mailworld import MailWorld
from contactvault.server.runtime import Runtime
from contactvault.server.worker.housekeeping import Housekeeper
from contactvault.server.worker.mail.politeness import PolitenessDeferred, ProviderLimits
from contactvault.server.worker.mail.shared import DatabaseLimiter
from contactvault.server.worker.runner import Worker
from tests.engine import task, worker
from tests.factories import Account, make_account
from tests.integration.mail.conftest import point, submit_unlock
from tests.integration.mail.people import Person, seed

WORKER_DEADLINE_SECONDS = 30.0
NORMAL_MX = "127.0.0.2"
GAP_SECONDS = 0.15
# Loopback scheduling: the MX stamps a connection a few ms after the prober's reservation allowed it.
SCHEDULING_SLACK_SECONDS = 0.02
# The catch-all probe's random local part (candidates always carry a dot or are a single name: never 20 of these).
PROBE_LOCAL = re.compile(r"^[a-z0-9]{20}@")

VAULT = [
    Person(1, "Ada Lovelace", 1, "ada.lovelace@normal.test"),
    Person(2, "Alan Turing", 1, "alan.turing@normal.test"),
]
UNKNOWN = [
    Person(3, "Grace Hopper", 1),
    Person(4, "Edsger Dijkstra", 1),
    Person(5, "Barbara Liskov", 1),
    Person(6, "Donald Knuth", 1),
    Person(7, "Frances Allen", 1),
    Person(8, "Ken Thompson", 1),
]


def unlock(rt: Runtime, pids: list[int]) -> tuple[Account, str]:
    account = make_account(rt)
    return account, submit_unlock(rt, account, pids)


def drain_together(workers: list[Worker]) -> list[int]:
    """Each worker drains in its own thread at the same time; how many items each claimed."""
    claimed = [0] * len(workers)

    def run(index: int) -> None:
        claimed[index] = workers[index].drain()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WORKER_DEADLINE_SECONDS)
        assert not t.is_alive(), "a worker did not finish in time"
    return claimed


def sessions(world: MailWorld, server: str) -> list[tuple[float, float]]:
    """Each connection to ``server``: when the MX accepted it and when its last command arrived."""
    spans: dict[int, float] = {}
    for event in world.recorder.commands(server):
        spans[event.session] = max(spans.get(event.session, 0.0), event.at)
    return sorted((world.recorder.opened[n], end) for n, end in spans.items())


def test_two_workers_never_exceed_one_providers_concurrency_or_gap(rt: Runtime, world: MailWorld) -> None:
    seed(rt, {1: "normal.test"}, VAULT + UNKNOWN)
    point(
        rt,
        world,
        mail_shared_state="database",
        smtp_provider_concurrency=1,
        smtp_provider_gap_seconds=GAP_SECONDS,
        worker_batch_size=2,
        worker_concurrency=4,
    )
    unlock(rt, [p.id for p in UNKNOWN])
    workers = [worker(rt, name="w1"), worker(rt, name="w2")]
    try:
        claimed = [0, 0]
        for _ in range(20):  # politeness deferrals come back after the retry delay, on the test's clock
            got = drain_together(workers)
            if not any(got):
                break
            claimed = [c + g for c, g in zip(claimed, got, strict=True)]
            rt.clock.advance(rt.settings.greylist_retry_after + 1)  # type: ignore[attr-defined]
    finally:
        for w in workers:
            w.close()
    assert all(claimed), f"both workers must have resolved items of the provider: {claimed}"
    seen = sessions(world, NORMAL_MX)
    assert len(seen) >= len(UNKNOWN)  # at least one session per person: the limiter was on the path
    for (start, end), (next_start, _) in itertools.pairwise(seen):
        assert next_start >= end - SCHEDULING_SLACK_SECONDS, "two sessions to one provider at once"
        assert next_start - start >= GAP_SECONDS - SCHEDULING_SLACK_SECONDS, "sessions closer than the gap"


class _Now:
    def __init__(self) -> None:
        self.value = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value


def test_a_crashed_holders_slot_is_reclaimed_after_its_lease(rt: Runtime) -> None:
    now = _Now()
    limits = ProviderLimits(concurrency=1, gap_seconds=0.0, max_wait_seconds=0.0)
    first, second = (DatabaseLimiter(rt.db, limits, 20.0, now) for _ in range(2))

    async def scenario() -> None:
        held = first.session("example.com")
        await held.__aenter__()  # the holder "crashes": it never leaves the session
        with pytest.raises(PolitenessDeferred):
            async with second.session("example.com"):
                pass
        now.value += timedelta(seconds=19)
        with pytest.raises(PolitenessDeferred):
            async with second.session("example.com"):
                pass
        now.value += timedelta(seconds=2)  # past the lease
        entered = False
        async with second.session("example.com"):
            entered = True
        assert entered

    asyncio.run(scenario())


def test_the_gap_and_the_budget_hold_across_limiters(rt: Runtime) -> None:
    now = _Now()
    limits = ProviderLimits(concurrency=5, gap_seconds=10.0, budget=2, window_seconds=60.0, max_wait_seconds=0.0)
    first, second = (DatabaseLimiter(rt.db, limits, 20.0, now) for _ in range(2))

    async def scenario() -> None:
        async with first.session("example.com"):
            pass
        with pytest.raises(PolitenessDeferred) as deferred:
            async with second.session("example.com"):
                pass
        assert deferred.value.retry_after == 10  # the gap counts from the other limiter's start
        now.value += timedelta(seconds=10)
        async with second.session("example.com"):
            pass
        now.value += timedelta(seconds=10)
        with pytest.raises(PolitenessDeferred) as deferred:  # two starts in this 60 s window: the budget is spent
            async with first.session("example.com"):
                pass
        assert deferred.value.retry_after == 40
        now.value += timedelta(seconds=40)
        async with first.session("example.com"):
            pass

    asyncio.run(scenario())


def test_a_block_stops_every_worker(rt: Runtime) -> None:
    now = _Now()
    limits = ProviderLimits(concurrency=2, gap_seconds=0.0, max_wait_seconds=0.0)
    first, second = (DatabaseLimiter(rt.db, limits, 20.0, now) for _ in range(2))

    async def scenario() -> None:
        await first.block("example.com", 60)
        with pytest.raises(PolitenessDeferred) as deferred:
            async with second.session("example.com"):
                pass
        assert deferred.value.retry_after == 60
        now.value += timedelta(seconds=61)
        async with second.session("example.com"):
            pass

    asyncio.run(scenario())


def mx_questions(world: MailWorld) -> int:
    return sum(1 for name, qtype in world.recorder.dns_queries if qtype == "MX" and "normal.test" in name)


def catch_all_probes(world: MailWorld) -> int:
    return sum(1 for e in world.recorder.commands(NORMAL_MX, "RCPT") if PROBE_LOCAL.search(e.argument))


@pytest.mark.parametrize("shared", ["database", "process"])
def test_a_second_worker_reuses_the_first_ones_mx_answer_and_catch_all_verdict(
    rt: Runtime, world: MailWorld, shared: str
) -> None:
    seed(rt, {1: "normal.test"}, VAULT + UNKNOWN)
    point(rt, world, mail_shared_state=shared, smtp_provider_gap_seconds=0.0)
    unlock(rt, [3])
    first = worker(rt, name="w1")
    try:
        assert first.drain() == 1
    finally:
        first.close()
    assert (mx_questions(world), catch_all_probes(world)) == (1, 1)  # the first worker asked
    rcpts_before = len(world.recorder.commands(NORMAL_MX, "RCPT"))

    unlock(rt, [4])
    second = worker(rt, name="w2")  # fresh process memory: its own resolvers, DNS adapter and prober
    try:
        assert second.drain() == 1
    finally:
        second.close()
    assert len(world.recorder.commands(NORMAL_MX, "RCPT")) > rcpts_before  # it did probe its candidates
    if shared == "database":
        assert (mx_questions(world), catch_all_probes(world)) == (1, 1)
    else:  # the control: without the shared caches the second worker asks again
        assert (mx_questions(world), catch_all_probes(world)) == (2, 2)


def test_housekeeping_purges_expired_mail_cache_rows(rt: Runtime, world: MailWorld) -> None:
    seed(rt, {1: "normal.test"}, VAULT + UNKNOWN)
    point(rt, world, mail_shared_state="database", smtp_provider_gap_seconds=0.0)
    unlock(rt, [3])
    w = worker(rt, name="w1")
    try:
        w.drain()
        with rt.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(mail_cache)).scalar_one() >= 2
        rt.clock.advance(rt.settings.smtp_catch_all_ttl_seconds + 1)  # type: ignore[attr-defined]
        Housekeeper(rt).run_due()
    finally:
        w.close()
    with rt.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(mail_cache)).scalar_one() == 0


@pytest.mark.parametrize("shared", ["database", "process"])
def test_a_second_worker_reuses_the_first_ones_verdict_on_an_address(
    rt: Runtime, world: MailWorld, shared: str
) -> None:
    seed(rt, {1: "normal.test"}, VAULT + UNKNOWN)
    point(rt, world, mail_shared_state=shared, smtp_provider_gap_seconds=0.0)
    unlock(rt, [3])
    first = worker(rt, name="w1")
    try:
        assert first.drain() == 1
    finally:
        first.close()
    connections = world.recorder.connections_to(NORMAL_MX)
    assert connections == 1  # the first worker probed grace.hopper@normal.test

    account, task_id = unlock(rt, [3])  # the same person again, for another task
    second = worker(rt, name="w2")
    try:
        assert second.drain() == 1
    finally:
        second.close()
    (item,) = task(rt, account, task_id)["items"]
    assert (item["status"], item["email"], item["verification"]["status"]) == (
        "unlocked",
        "grace.hopper@normal.test",
        "valid",
    )
    if shared == "database":
        assert world.recorder.connections_to(NORMAL_MX) == connections  # the verdict came from the cache
        with rt.db.read() as conn:
            keys = conn.execute(select(mail_cache.c.key).where(mail_cache.c.kind == "verdict")).scalars().all()
        # Keyed hashes, never the address.
        assert rt.cipher.lookup_hash("email", "grace.hopper@normal.test").hex() in keys
        assert all(re.fullmatch("[0-9a-f]{64}", key) for key in keys)
    else:  # the control: without the shared verdicts the second worker probes again
        assert world.recorder.connections_to(NORMAL_MX) == connections + 1
