"""Wake-ups across the processes of ``serve --workers N`` on one SQLite file, without a read per waiter.

SQLite has no NOTIFY. The worker commits in one process; long-polls wait in all of them. ``SqliteNotifier`` is
the in-process ``Notifier`` plus one watcher thread per process, on a connection of its own, that every
``WATCH_SECONDS`` asks ``PRAGMA data_version`` (answered from the connection's memory: it changes when any other
connection, in any process, has committed to the file). Only when it changed and someone waits here does the
thread read the versions of all the tasks waited on, in one statement, and wake the waiters whose task moved.
So the cost is one pragma per tick per process, plus one small read per tick in which the file changed, shared by
all the process's waiters; a waiter reads the database only when woken and once when its wait ends.

The versions are read with ``data_version`` in one read transaction, so the next pragma tells whether anything
committed after them. A task first waited on since the last tick is woken (one read by its waiter) only if the file
changed since that tick's first pragma, which came before the waiter registered and so before its own read: then
the watcher cannot know whether the change came before or after that read. So no change is ever missed.
While the watcher runs,
``hears_every_writer`` is true; if it fails it logs one line, and the waiters fall back to re-checking every second
(the poll route) until it is back. With the worker in this process, a change also rings its doorbell, so an idle
worker claims a submission made in a sibling process at the next tick instead of its next idle tick.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading

from contactvault.server.notifier import Notifier

log = logging.getLogger("contactvault.sqlite_watch")

# The long-poll goal is p95 <= 50 ms from the commit to the answer: a tick well inside it.
WATCH_SECONDS = 0.02
RETRY_SECONDS = 1.0
_VERSIONS = "SELECT id, version FROM tasks WHERE id IN (SELECT value FROM json_each(?))"


class SqliteNotifier(Notifier):
    """The in-process notifier, with the changes other processes commit to the SQLite file heard by polling."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        # Set while the watcher thread runs with an open connection (then every writer is heard).
        self.watching = threading.Event()

    def hears_every_writer(self) -> bool:
        """While the watcher runs, every process's commits reach this one within a tick."""
        return self.watching.is_set() or super().hears_every_writer()

    def start(self) -> None:
        """Start the watcher thread."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="contactvault-sqlite-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the watcher thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                conn = sqlite3.connect(self._path, timeout=5, check_same_thread=False, isolation_level=None)
                try:
                    self._watch(conn)
                finally:
                    self.watching.clear()
                    conn.close()
            except sqlite3.Error as exc:
                log.error("SQLite watcher failed (%s); long-polls re-check every second until it is back", exc)
                self._stopping.wait(RETRY_SECONDS)

    def _watch(self, conn: sqlite3.Connection) -> None:
        before = _data_version(conn)  # the file as of the previous tick's first look
        known: dict[int, int | None] = {}  # the waited tasks' versions in the snapshot ``known_at``
        known_at: int | None = None
        self.watching.set()
        with self._lock:
            waiting = list(self._listeners)
        Notifier.publish(self, waiting)  # changes made before this connection looked went unheard: everyone looks
        while not self._stopping.wait(WATCH_SECONDS):
            now = _data_version(conn)  # before the waiting set: a later registration's read follows it
            with self._lock:
                waiting = list(self._listeners)
            if now != before and self.worker_in_process:
                self.work.set()
            fresh = [tid for tid in waiting if tid not in known]
            if now == known_at and not fresh:
                known = {tid: known[tid] for tid in waiting}
                before = now
                continue
            versions, at = _versions(conn, waiting)
            moved = [tid for tid in waiting if tid in known and known[tid] != versions.get(tid)]
            if at != before:
                # A fresh waiter registered after ``before`` and read after that, maybe before the change: it looks.
                moved += fresh
            if moved:
                Notifier.publish(self, moved)
            known, known_at, before = {tid: versions.get(tid) for tid in waiting}, at, now


def _versions(conn: sqlite3.Connection, task_ids: list[int]) -> tuple[dict[int, int], int]:
    """The tasks' versions and the ``data_version`` of the same snapshot (one read transaction)."""
    if not task_ids:
        return {}, _data_version(conn)
    conn.execute("BEGIN")
    try:
        versions = dict(conn.execute(_VERSIONS, (json.dumps(task_ids),)).fetchall())
        return versions, _data_version(conn)
    finally:
        conn.execute("COMMIT")


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])
