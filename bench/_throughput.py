"""The resolution bench's throughput sides: the raw aiosmtplib ceiling, how one side is timed, and the worker's loop
over a queue (claims of up to ``worker_batch_size`` items handed to the resolver chain in one call, deferrals
re-queued), which the engine's headline throughput row drives."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosmtplib

from bench._servers import ServedWorld
from bench._vault import HELO, MAIL_FROM
from contactvault.server.domain.resolution import Lookup, Outcome
from contactvault.server.worker.pipeline import ResolverChain


@dataclass
class Side:
    """What one side of the throughput comparison took: wall seconds, CPU seconds of the prober's process and of
    the servers' process, the sessions the servers saw and the RCPTs among them."""

    seconds: float = 0.0
    cpu: float = 0.0
    server_cpu: float = 0.0
    sessions: int = 0
    rcpts: int = 0

    def add(self, other: Side) -> None:
        self.seconds += other.seconds
        self.cpu += other.cpu
        self.server_cpu += other.server_cpu
        self.sessions += other.sessions
        self.rcpts += other.rcpts


async def timed(mail: ServedWorld, run: Callable[[], Awaitable[Any]]) -> Side:
    """Run one side, measured by the servers' counts and both processes' CPU clocks."""
    before = await mail.counts()
    cpu, began = time.process_time(), time.perf_counter()
    await run()
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    after = await mail.counts()
    return Side(
        seconds, cpu, after.cpu - before.cpu, after.connections - before.connections, after.rcpts - before.rcpts
    )


async def raw_ceiling(port: int, addresses: Sequence[str], sessions: int, concurrency: int) -> float:
    """Seconds taken by ``sessions`` bare aiosmtplib sessions (EHLO, MAIL, 2 RCPT, QUIT) against the normal MX."""
    slots = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with slots:
            client = aiosmtplib.SMTP(hostname="127.0.0.2", port=port, local_hostname=HELO, start_tls=False, timeout=5)
            await client.connect()
            await client.ehlo()
            await client.mail(MAIL_FROM)
            for offset in (0, 1):
                await client.rcpt(addresses[(2 * index + offset) % len(addresses)])
            await client.quit()

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(sessions)))
    return time.perf_counter() - began


async def resolve_batched(
    chain: ResolverChain, lookups: Sequence[Lookup], batch_size: int, retry_after: float, max_passes: int
) -> Counter[str]:
    """The worker's loop over a queue holding ``lookups``: claim up to ``batch_size`` due items (queue order), hand
    them to ``chain.resolve`` in one call (as ``Worker._resolve_and_record`` does: the person opt-out read, the
    vault, then the pattern resolver's ``resolve_many`` with the chain's concurrency), and wait for the whole
    claim before the next. A deferred or transient item goes back to the queue, due after its ``retry_after``, and
    is not counted as settled (the worker re-queues a deferral without using up an attempt). Nothing is recorded:
    the per-person side records nothing either. Returns the counts: claims, largest claim, settled, found,
    deferred, transient, given up (still deferred after ``max_passes``)."""
    queue: list[tuple[float, int, Lookup]] = [(0.0, n, lk) for n, lk in enumerate(lookups)]
    passes: Counter[int] = Counter()
    counts: Counter[str] = Counter()
    while queue:
        now = time.monotonic()
        due = sorted(entry for entry in queue if entry[0] <= now)
        if not due:
            await asyncio.sleep(min(entry[0] for entry in queue) - now)  # the queue's next item is not due yet
            continue
        claimed = due[:batch_size]
        taken = {entry[1] for entry in claimed}
        queue = [entry for entry in queue if entry[1] not in taken]
        counts["claims"] += 1
        counts["largest_claim"] = max(counts["largest_claim"], len(claimed))
        answers = await chain.resolve([entry[2] for entry in claimed])
        for _, order, lookup in claimed:
            answer = answers[lookup.item_id]
            passes[order] += 1
            if answer.outcome not in (Outcome.DEFERRED, Outcome.TRANSIENT):
                counts["settled"] += 1
                counts["found"] += answer.outcome is Outcome.FOUND
            elif passes[order] > max_passes:
                counts["given_up"] += 1
            else:
                counts[answer.outcome.value] += 1
                queue.append((time.monotonic() + (answer.retry_after or retry_after), order, lookup))
    return counts
