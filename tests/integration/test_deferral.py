"""A deferral (greylisting, a politeness limit) re-queues the item with its lease released and its attempt given
back; it is delivered (and charged once) after the retry, however many times it was deferred."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from contactvault.server.clock import FakeClock
from contactvault.server.db.tables import task_items
from contactvault.server.domain.resolution import deferred
from contactvault.server.runtime import Runtime
from contactvault.server.worker.resolvers.base import Lookup, Resolution, Resolver
from contactvault.server.worker.resolvers.fake import FakeResolver
from tests.engine import assert_reconciles, balance, submit, task, worker
from tests.factories import Account


class DeferringResolver(Resolver):
    """Defers each person ``times`` times by ``seconds``, then answers like the fake resolver."""

    name = "deferring"

    def __init__(self, found: FakeResolver, times: int, seconds: float) -> None:
        self.found = found
        self.times = times
        self.seconds = seconds
        self.calls: Counter[int] = Counter()

    async def resolve(self, lookup: Lookup) -> Resolution:
        self.calls[lookup.personnel_id] += 1
        if self.calls[lookup.personnel_id] <= self.times:
            return deferred(self.seconds)
        return await self.found.resolve(lookup)


def item_row(rt: Runtime) -> tuple[str, int, str | None, object, object]:
    with rt.db.read() as conn:
        row = conn.execute(
            select(
                task_items.c.status,
                task_items.c.attempts,
                task_items.c.lease_owner,
                task_items.c.lease_expires_at,
                task_items.c.next_attempt_at,
            )
        ).one()
    return row[0], row[1], row[2], row[3], row[4]


def test_a_deferred_item_is_requeued_without_an_attempt_then_delivered_and_charged_once(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    # More deferrals than the attempt limit (3 in tests): none of them may count.
    resolver = DeferringResolver(FakeResolver(directory.cipher), times=5, seconds=300)
    before = balance(directory, account)
    body = submit(directory, account, [7])
    w = worker(directory, [resolver])
    try:
        for n in range(1, 6):
            assert w.run_once() == 1
            status, attempts, owner, lease, due = item_row(directory)
            assert (status, attempts, owner, lease) == ("pending", 0, None, None)
            assert due == clock.now() + timedelta(seconds=300)
            assert w.run_once() == 0  # not due before the retry time
            assert resolver.calls[7] == n
            clock.advance(300)
        assert w.run_once() == 1
    finally:
        w.close()
    polled = task(directory, account, str(body["task_id"]))
    assert polled["taskStatus"] == "completed"
    assert polled["items"][0]["status"] == "unlocked"
    assert polled["items"][0]["creditsCharged"] == 15
    assert balance(directory, account) == before - 15
    assert item_row(directory)[1] == 1  # the one attempt that delivered
    assert_reconciles(directory)
