"""The worker loop: claim a batch under a lease, resolve it with no transaction open, record it.

The loop never dies of an exception: a failed iteration is logged on one line and backed off, and a batch that
raises is bisected so that only the items that fail on their own pay for it (see ``Worker._settle``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import threading
import traceback
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path

from contactvault.server import faults, metrics
from contactvault.server.db import status_reads
from contactvault.server.db.engine import Conflict, ping
from contactvault.server.db.queue import ClaimedItem, claim, release_leases
from contactvault.server.domain.tasks import RetryPolicy
from contactvault.server.runtime import Runtime
from contactvault.server.services import outcomes
from contactvault.server.worker.pipeline import ResolverChain
from contactvault.server.worker.resolvers.base import Lookup, Resolver
from contactvault.server.worker.resolvers.pattern import PatternResolver
from contactvault.server.worker.resolvers.provider import configured_providers
from contactvault.server.worker.resolvers.reverify import Reverifier
from contactvault.server.worker.resolvers.vault import VaultResolver

log = logging.getLogger("contactvault.worker")

# Pauses after failed iterations (a claim that failed, a database outage): doubling, capped, jittered.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 10.0
# How often a looping worker rewrites its heartbeat row (admin status lists workers seen in the last minute).
HEARTBEAT_WRITE_SECONDS = 10.0


def describe(exc: BaseException) -> str:
    """An exception's class and where it was raised, never its message (which may quote values or SQL)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    module = type(exc).__module__
    name = type(exc).__qualname__ if module == "builtins" else f"{module}.{type(exc).__qualname__}"
    return f"{name}{where}"


def task_ids(items: Sequence[ClaimedItem]) -> str:
    """The distinct task ids of some items, for a log line (ids only: no personal data)."""
    ids = sorted({i.task_id for i in items})
    shown = ",".join(str(t) for t in ids[:20])
    return f"[{shown}{f',... ({len(ids)} in all)' if len(ids) > 20 else ''}]"


def default_resolvers(rt: Runtime, rng: random.Random | None = None) -> list[Resolver]:
    """The chain the settings describe: the vault, then the pattern resolver where DNS verification is configured,
    then the operator's providers (none unless CONTACTVAULT_PROVIDERS_FILE is set)."""
    pattern = PatternResolver.from_runtime(rt, rng)
    reverifier = None
    if pattern is not None and pattern.prober is not None and rt.settings.reverify_after_days > 0:
        after = rt.settings.reverify_after_days
        reverifier = Reverifier(rt.db, rt.cipher, rt.clock, pattern.dns, pattern.prober, after)
    resolvers: list[Resolver] = [VaultResolver(rt.db, reverifier)]
    if pattern is not None:
        resolvers.append(pattern)
    resolvers.extend(configured_providers(rt))
    return resolvers


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
        self.chain = ResolverChain(rt.db, rt.cipher, resolvers or default_resolvers(rt), s.worker_concurrency)
        self.policy = RetryPolicy(max_attempts=s.worker_max_attempts)
        self.lease = timedelta(seconds=s.worker_lease_seconds)
        self.batch_size = s.worker_batch_size
        self.rng = rng or random.Random()
        self._stopping = threading.Event()
        self._claims = count(1)
        self._loop = asyncio.new_event_loop()
        self._failures = 0  # consecutive failed iterations
        self._backoff: tuple[int, float] | None = None
        self._backoff_cap = min(BACKOFF_CAP_SECONDS, self.lease.total_seconds() / 2)
        # When the loop last completed an iteration (None until ``run`` starts): readiness reads it.
        self.heartbeat: datetime | None = None
        self._started_at = rt.clock.now()
        self._heartbeat_written: datetime | None = None  # when the heartbeat row was last written (admin status)

    def stop(self) -> None:
        """Finish the batch in hand, then return from ``run``."""
        self._stopping.set()
        self.rt.notifier.work.set()

    def run_once(self) -> int:
        """Claim and settle one batch; returns how many items it claimed.

        An exception while settling is contained (see ``_settle``); only a failed claim, or a database outage
        found while settling, leaves here as an exception.
        """
        owner = f"{self.worker_id}#{next(self._claims)}"
        # A stop asked for before this claim hands its items back at once; one that arrives once the claim is
        # made finds the batch in hand, which is finished first (what an observer of the claim may rely on).
        stopping = self._stopping.is_set()
        with self.rt.db.write() as conn:
            items = claim(conn, owner, self.rt.clock.now(), self.lease, self.batch_size)
        if not items:
            return 0
        self.rt.notifier.publish({i.task_id for i in items})
        if stopping:
            self._give_back(owner, items)
            return len(items)
        self._settle(owner, items)
        return len(items)

    def _resolve_and_record(self, items: list[ClaimedItem]) -> None:
        faults.hit("after_claim", [i.personnel_id for i in items])
        lookups = [
            Lookup(i.id, i.personnel_id, i.channel, i.verification_min)
            for i in items
            if i.attempts <= self.policy.max_attempts
        ]
        answers = self._loop.run_until_complete(self.chain.resolve(lookups)) if lookups else {}
        faults.hit("after_resolve")
        for attempt in range(3):
            try:
                result = outcomes.record(self.rt, items, answers, self.policy, self.rng)
                break
            except Conflict:
                # A constraint said no (e.g. someone unlocked the same person meanwhile); the whole batch was
                # rolled back, so settle it again against what is now committed.
                if attempt == 2:
                    raise
        if result.lost:
            metrics.LEASES_LOST.inc(result.lost)
            log.warning("lease lost on %d items; another worker has them", result.lost)

    def _settle(self, owner: str, items: list[ClaimedItem]) -> None:
        """Resolve and record a batch. When that raises, bisect: halves that succeed are recorded now, and an item
        that fails on its own counts a failed attempt (retried with back-off, then failed uncharged), so one bad
        item never holds the others back. A database outage ends the batch: its items go back to the queue."""
        todo = [items]
        crashed: list[ClaimedItem] = []
        while todo:
            part = todo.pop()
            try:
                self._resolve_and_record(part)
            except Exception as exc:
                if len(part) == len(items):
                    log.warning(
                        "batch of %d items failed (%s); isolating the cause; tasks %s",
                        len(items),
                        describe(exc),
                        task_ids(items),
                    )
                if not self._database_answers():
                    self._give_back_quietly(owner, [i for p in (part, *todo) for i in p])
                    raise
                if len(part) == 1:
                    crashed.append(part[0])
                else:
                    half = len(part) // 2
                    todo += [part[half:], part[:half]]
        if crashed:
            log.warning(
                "%d items failed their batch on their own and count a failed attempt; tasks %s",
                len(crashed),
                task_ids(crashed),
            )
        for item in crashed:
            self._record_crash(item)

    def _record_crash(self, item: ClaimedItem) -> None:
        """Record a crashed item as a transient failure: retried after back-off, or failed uncharged at the limit."""
        try:
            outcomes.record(self.rt, [item], {}, self.policy, self.rng)
        except Exception as exc:
            # Its lease expires and it is claimed again; the batch it lands in bisects around it once more.
            log.error(
                "could not record the failure of item %d of task %d (%s); it is retried when its lease expires",
                item.id,
                item.task_id,
                describe(exc),
            )

    def _database_answers(self) -> bool:
        # A write transaction: on SQLite a write lock held elsewhere past busy_timeout is an outage too, and
        # bisecting under it would wait that long for every half.
        try:
            with self.rt.db.write() as conn:
                ping(conn)
        except Exception:
            return False
        return True

    def _give_back(self, owner: str, items: list[ClaimedItem]) -> None:
        with self.rt.db.write() as conn:
            release_leases(conn, owner, [i.id for i in items], self.rt.clock.now())

    def _give_back_quietly(self, owner: str, items: list[ClaimedItem]) -> None:
        # Best effort: when the database is down this fails too, and the leases expire instead.
        with contextlib.suppress(Exception):
            self._give_back(owner, items)

    def step(self) -> int:
        """One iteration of the loop: one batch (housekeeping runs in its own thread, ``worker/housekeeping``);
        returns how many items it claimed.

        Never raises ``Exception``: a failure is logged on one line and counted for ``backoff_seconds``.
        """
        try:
            claimed = self.run_once()
        except Exception as exc:
            self._failures += 1
            claimed = 0
            log.warning("worker iteration failed (%s); retrying in %.1f s", describe(exc), self.backoff_seconds())
        else:
            self._failures = 0
            metrics.WORKER_LOOPS.inc()
        self.heartbeat = self.rt.clock.now()
        self._write_heartbeat(self.heartbeat)
        return claimed

    def _write_heartbeat(self, now: datetime) -> None:
        """Record the loop's last iteration for ``admin status``, at most every ``HEARTBEAT_WRITE_SECONDS``."""
        last = self._heartbeat_written
        if last is not None and (now - last).total_seconds() < HEARTBEAT_WRITE_SECONDS:
            return
        try:
            with self.rt.db.write() as conn:
                status_reads.beat(conn, self.worker_id[:64], self._started_at, now)
        except Exception as exc:
            log.warning("worker heartbeat not recorded (%s)", describe(exc))
            return
        self._heartbeat_written = now

    def backoff_seconds(self) -> float:
        """How long to pause after the last iteration: 0 when it succeeded, else capped exponential with jitter."""
        if not self._failures:
            return 0.0
        if self._backoff is None or self._backoff[0] != self._failures:
            ceiling = min(self._backoff_cap, BACKOFF_BASE_SECONDS * 2 ** (self._failures - 1))
            self._backoff = (self._failures, self.rng.uniform(ceiling / 2, ceiling))
        return self._backoff[1]

    def run(self) -> None:
        """Loop until stopped; sleeps when idle, waking early when work is submitted in this process."""
        log.info("worker %s started", self.worker_id)
        self.heartbeat = self.rt.clock.now()
        # An idle worker still completes an iteration well within its lease (what readiness checks).
        idle = min(self.rt.settings.worker_idle_seconds, self.lease.total_seconds() / 2)
        try:
            while not self._stopping.is_set():
                claimed = self.step()
                if self._failures:
                    self._stopping.wait(self.backoff_seconds())
                elif claimed == 0:
                    self.rt.notifier.work.wait(idle)
                    self.rt.notifier.work.clear()
        finally:
            self._loop.close()
            log.info("worker %s stopped", self.worker_id)

    def stalled_for(self, now: datetime) -> float | None:
        """Seconds since the loop last completed an iteration, when that is longer than the lease; else None."""
        if self.heartbeat is None:
            return None
        age = (now - self.heartbeat).total_seconds()
        return age if age > self.lease.total_seconds() else None

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
