"""Rendered views of finished tasks, kept in memory: a finished task is polled far more often than it changes.

An entry is keyed by (account, task, channel, version). Every change to what a task shows bumps its version
(claims and records, erasure or retention removing a value, suppress and unsuppress hiding or showing one), so a
stale view can never be served: a poll reads the task's version first (one indexed row), and only a miss pays for
the join and the decryption. A view with an unreadable value is not kept (putting its key back bumps nothing).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

Key = tuple[int, int, str, int]


class TaskViews:
    """A bounded LRU of finished tasks' bodies (they hold revealed values: memory only, never written out)."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Key, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> dict[str, Any] | None:
        """The body stored under ``key``, if any."""
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
            return body

    def put(self, key: Key, body: dict[str, Any]) -> None:
        """Keep a finished task's body."""
        if self.capacity <= 0:
            return
        with self._lock:
            self._entries[key] = body
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
