"""Helpers for unlock-engine tests: submit through the service, drain with a worker, count rows."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func, select

from contactvault.server.api import mappers
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.scoring import VerificationMin
from contactvault.server.runtime import Runtime
from contactvault.server.services import credits, unlocks
from contactvault.server.services.reconcile import reconcile
from contactvault.server.worker.resolvers.base import Resolver
from contactvault.server.worker.runner import Worker
from tests.factories import BIG_EVENT, Account


def submit(
    rt: Runtime,
    account: Account,
    ids: Sequence[int | str],
    *,
    channel: Channel = Channel.EMAIL,
    event: int = BIG_EVENT,
    max_credits: int | None = None,
    verification_min: VerificationMin | None = None,
) -> dict[str, object]:
    """Submit through the service layer; returns the wire body."""
    result = unlocks.submit(
        rt,
        unlocks.UnlockRequest(
            account_id=account.id,
            channel=channel,
            event_id=str(event),
            personnel_ids=[str(i) for i in ids],
            max_credits=max_credits,
            verification_min=verification_min,
        ),
    )
    return mappers.submission(result)


def worker(rt: Runtime, resolvers: Sequence[Resolver] | None = None, name: str = "w1") -> Worker:
    """A worker with a seeded jitter source."""
    return Worker(rt, resolvers, worker_id=name, rng=random.Random(3))


def drain(rt: Runtime, resolvers: Sequence[Resolver] | None = None) -> int:
    """Run a worker until nothing is due."""
    w = worker(rt, resolvers)
    try:
        return w.drain()
    finally:
        w.close()


def task(rt: Runtime, account: Account, task_id: str, channel: Channel = Channel.EMAIL) -> dict[str, Any]:
    """The poll body of a task."""
    return mappers.task(unlocks.get_task(rt, account.id, int(task_id), channel))


def balance(rt: Runtime, account: Account) -> int:
    """What the account can spend now."""
    return credits.balance(rt, account.id).total_balance


def count(rt: Runtime, table: Table) -> int:
    """Rows in a table."""
    with rt.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def assert_reconciles(rt: Runtime) -> None:
    """The ledger reconciles and nobody has two unlocks of the same channel."""
    result = reconcile(rt)
    assert result.ok, result.problems
