"""Wakes long-polling requests when a task changes, and bounds how many may wait.

Writers (the in-process worker) call ``publish`` after commit, from any thread; a request handler opens a
``listen(task_id)`` *before* it reads the task, so no change between its read and its wait is missed. When
``hears_every_writer`` is false (no worker in this process, or PostgreSQL without a live LISTEN), another
process's writes are noticed only by a fallback check the waiter runs itself every second (see the poll route);
when it is true, a waiter reads the database only when woken and once when its wait ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from contactvault.server import metrics


class Listener:
    """One waiter's wake-up flag, bound to its event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """Wait for a publish (or ``timeout`` seconds); True when woken."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        self.event.clear()
        return True


class Notifier:
    """Per-task wake-ups that cross threads into event loops, and the in-process worker's doorbell."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[int, set[Listener]] = defaultdict(set)
        # Set when work was submitted in this process; an in-process worker waits on it when idle.
        self.work = threading.Event()
        # True while this process runs the worker (embedded mode): then, on SQLite, every task change is made
        # here and published, so waiters need not poll the database.
        self.worker_in_process = False

    def hears_every_writer(self) -> bool:
        """Whether every change to a task wakes its waiters in this process (then they need not re-check)."""
        return self.worker_in_process

    def start(self) -> None:
        """Begin hearing about other processes' changes (nothing to do in process; see ``pg_notify``)."""

    def close(self) -> None:
        """Stop hearing about other processes' changes."""

    def kick_worker(self) -> None:
        """Tell an in-process worker that new items are due."""
        self.work.set()

    def publish(self, task_ids: Iterable[int]) -> None:
        """Wake every listener of these tasks (safe to call from any thread)."""
        with self._lock:
            woken = [lst for tid in task_ids for lst in self._listeners.get(tid, ())]
        for lst in woken:
            # A waiter's loop may close at any moment (shutdown); the writer has committed and must not fail.
            with contextlib.suppress(RuntimeError):
                lst.loop.call_soon_threadsafe(lst.event.set)

    @contextmanager
    def listen(self, task_id: int) -> Iterator[Listener]:
        """Register a listener for the duration of the block (call from inside an event loop)."""
        listener = Listener()
        with self._lock:
            self._listeners[task_id].add(listener)
        try:
            yield listener
        finally:
            with self._lock:
                group = self._listeners.get(task_id)
                if group is not None:
                    group.discard(listener)
                    if not group:
                        del self._listeners[task_id]


class WaitSlots:
    """Caps on long-polls waiting at once, per API key and per process (a cap of 0 is no cap).

    ``take`` answers None when the caller may wait (it must ``give_back`` afterwards), or which cap refused it.
    """

    def __init__(self, per_key: int, per_node: int) -> None:
        self.per_key = per_key
        self.per_node = per_node
        self._lock = threading.Lock()
        self._by_key: Counter[str] = Counter()
        self._total = 0

    def take(self, key: str) -> str | None:
        """Reserve a slot for ``key``; None on success, else ``"key-cap"`` or ``"node-cap"``."""
        with self._lock:
            if self.per_node and self._total >= self.per_node:
                return "node-cap"
            if self.per_key and self._by_key[key] >= self.per_key:
                return "key-cap"
            self._total += 1
            self._by_key[key] += 1
            metrics.LONG_POLLS_OPEN.inc()
            return None

    def give_back(self, key: str) -> None:
        """Free a slot taken for ``key``."""
        with self._lock:
            self._total -= 1
            self._by_key[key] -= 1
            metrics.LONG_POLLS_OPEN.dec()
            if self._by_key[key] <= 0:
                del self._by_key[key]

    def waiting(self, key: str | None = None) -> int:
        """How many long-polls wait now (for ``key``, or in all)."""
        with self._lock:
            return self._total if key is None else self._by_key[key]
