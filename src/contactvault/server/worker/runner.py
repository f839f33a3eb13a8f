"""The worker loop: claim a batch under a lease, resolve it with no transaction open, record it."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
from collections.abc import Sequence
from datetime import timedelta
from itertools import count

from sqlalchemy.exc import DBAPIError, IntegrityError

from contactvault.server import faults
from contactvault.server.db.queue import ClaimedItem, claim, release_leases
from contactvault.server.domain.tasks import RetryPolicy
from contactvault.server.runtime import Runtime
from contactvault.server.services import outcomes
from contactvault.server.worker.pipeline import ResolverChain
from contactvault.server.worker.resolvers.base import Lookup, Resolver
from contactvault.server.worker.resolvers.vault import VaultResolver

log = logging.getLogger("contactvault.worker")


class Worker:
    """One worker; ``run`` loops until ``stop`` is called (from a signal handler or another thread)."""

    def __init__(
        self,
        rt: Runtime,
        resolvers: Sequence[Resolver] | None = None,
        *,
        worker_id: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        s = rt.settings
        self.rt = rt
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{rt.ids.new_id() % 100000}"
        self.chain = ResolverChain(rt.db, rt.cipher, resolvers or [VaultResolver(rt.db)], s.worker_concurrency)
        self.policy = RetryPolicy(max_attempts=s.worker_max_attempts)
        self.lease = timedelta(seconds=s.worker_lease_seconds)
        self.batch_size = s.worker_batch_size
        self.rng = rng or random.Random()
        self._stopping = threading.Event()
        self._claims = count(1)
        self._loop = asyncio.new_event_loop()

    def stop(self) -> None:
        """Finish the batch in hand, then return from ``run``."""
        self._stopping.set()
        self.rt.notifier.work.set()

    def run_once(self) -> int:
        """Process one batch; returns how many items it claimed."""
        owner = f"{self.worker_id}#{next(self._claims)}"
        with self.rt.db.write() as conn:
            items = claim(conn, owner, self.rt.clock.now(), self.lease, self.batch_size)
        if not items:
            return 0
        self.rt.notifier.publish({i.task_id for i in items})
        faults.hit("after_claim")
        if self._stopping.is_set():
            self._give_back(owner, items)
            return len(items)
        lookups = [Lookup(i.id, i.personnel_id, i.channel) for i in items if i.attempts <= self.policy.max_attempts]
        answers = self._loop.run_until_complete(self.chain.resolve(lookups)) if lookups else {}
        faults.hit("after_resolve")
        for attempt in range(3):
            try:
                result = outcomes.record(self.rt, items, answers, self.policy, self.rng)
                break
            except IntegrityError:
                # A constraint said no (e.g. someone unlocked the same person meanwhile); the whole batch was
                # rolled back, so settle it again against what is now committed.
                if attempt == 2:
                    raise
        if result.lost:
            log.warning("lease lost on %d items; another worker has them", result.lost)
        return len(items)

    def _give_back(self, owner: str, items: list[ClaimedItem]) -> None:
        with self.rt.db.write() as conn:
            release_leases(conn, owner, [i.id for i in items], self.rt.clock.now())

    def run(self) -> None:
        """Loop until stopped; sleeps when idle, waking early when work is submitted in this process."""
        log.info("worker %s started", self.worker_id)
        idle = self.rt.settings.worker_idle_seconds
        try:
            while not self._stopping.is_set():
                try:
                    claimed = self.run_once()
                except DBAPIError:
                    log.exception("database error; retrying shortly")
                    claimed = 0
                    self._stopping.wait(1.0)
                if claimed == 0:
                    self.rt.notifier.work.wait(idle)
                    self.rt.notifier.work.clear()
        finally:
            self._loop.close()
            log.info("worker %s stopped", self.worker_id)

    def drain(self, deadline_batches: int = 10_000) -> int:
        """Process batches until nothing is due (tests and benchmarks); returns items claimed."""
        total = 0
        for _ in range(deadline_batches):
            n = self.run_once()
            if n == 0:
                break
            total += n
        return total

    def close(self) -> None:
        """Release the event loop (when ``run`` was never called)."""
        if not self._loop.is_closed():
            self._loop.close()
