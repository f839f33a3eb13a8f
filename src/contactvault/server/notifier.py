"""Wakes long-polling requests when a task changes.

Writers (the in-process worker) call ``publish`` after commit, from any thread; a request handler opens a
``listen(task_id)`` *before* it reads the task, so no change between its read and its wait is missed. Another
process's writes are noticed by a slow fallback check the waiter runs itself (see the poll route), so this is an
accelerator, never the only path.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


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
            if not lst.loop.is_closed():
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
