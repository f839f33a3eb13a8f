"""Wake-ups across processes on PostgreSQL, through LISTEN/NOTIFY.

With many API nodes and workers, the process that changes a task is rarely the one holding the long-poll that
waits for it. ``PgNotifier`` is the in-process ``Notifier`` plus two channels:

- ``contactvault_tasks``: after a worker commits a claim or a record, it NOTIFYs the changed task ids; every
  process's listener thread wakes its own waiters for those tasks.
- ``contactvault_work``: after an API node commits a submission, it NOTIFYs; idle workers claim at once instead
  of at their next idle tick.

While the listener is connected every writer is heard, so a long-poll reads the database only when woken (and
once when its wait ends); while it is not, the poll route re-checks every second. Workers poll when idle. So a
lost NOTIFY costs latency (at most one wait), never correctness. Whenever the listener (re)connects it wakes
every waiter, since changes made while it was away went unheard. The listener thread survives any error: it
logs one line and reconnects.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from collections.abc import Iterable

import psycopg
from sqlalchemy import Engine, text

from contactvault.server.notifier import Notifier

log = logging.getLogger("contactvault.pg_notify")

TASKS_CHANNEL = "contactvault_tasks"
WORK_CHANNEL = "contactvault_work"
# PostgreSQL caps a payload below 8000 bytes; a record step may touch hundreds of tasks.
MAX_PAYLOAD_BYTES = 7000
# A silent network can leave a dead socket looking idle: the listener proves its connection this often.
HEARTBEAT_SECONDS = 10.0
RECONNECT_MAX_SECONDS = 5.0


def payloads(task_ids: Iterable[int]) -> list[str]:
    """Comma-separated task ids, split so that no payload exceeds the limit."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for task_id in task_ids:
        word = str(task_id)
        if current and size + len(word) + 1 > MAX_PAYLOAD_BYTES:
            chunks.append(",".join(current))
            current, size = [], 0
        current.append(word)
        size += len(word) + 1
    if current:
        chunks.append(",".join(current))
    return chunks


def parse_payload(payload: str) -> list[int]:
    """Task ids from a payload (anything that is not a plain ASCII number is ignored)."""
    # str.isdigit alone admits "²" or "٣", which int() refuses (or reads as another number).
    return [int(word) for word in payload.split(",") if word.isascii() and word.isdigit() and len(word) <= 20]


class PgNotifier(Notifier):
    """The in-process notifier, with its publishes broadcast to every process sharing the database."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        # Made by ``start``: ``close`` writes a byte to wake the listener from its select at once.
        self._wake: tuple[socket.socket, socket.socket] | None = None
        # Set while the listener holds a live, LISTENing connection (tests wait on it).
        self.listening = threading.Event()

    def publish(self, task_ids: Iterable[int]) -> None:
        """Wake this process's waiters now, and every other process's through NOTIFY."""
        ids = sorted(set(task_ids))
        if not ids:
            return
        super().publish(ids)
        self._notify(TASKS_CHANNEL, payloads(ids))

    def hears_every_writer(self) -> bool:
        """While LISTEN is live, every process's task changes reach this one."""
        return self.listening.is_set()

    def kick_worker(self) -> None:
        """Wake this process's worker, and every idle worker elsewhere."""
        super().kick_worker()
        self._notify(WORK_CHANNEL, [""])

    def _notify(self, channel: str, messages: list[str]) -> None:
        # Called after the writer committed; failing here must not fail the write (the fallback polls cover it).
        try:
            with self._engine.connect() as conn:
                conn.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    [{"channel": channel, "payload": message} for message in messages],
                )
                conn.commit()
        except Exception as exc:  # a driver error, a pool timeout, anything: the waiters' fallbacks cover it
            log.warning("NOTIFY %s failed: %s", channel, type(exc).__name__)

    def start(self) -> None:
        """Start the listener thread (once per process that waits: API nodes and workers)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._wake = socket.socketpair()
        self._thread = threading.Thread(
            target=self._listen, args=(self._wake[0].fileno(),), name="contactvault-pg-listener", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop the listener thread."""
        self._stopping.set()
        if self._wake is None or self._thread is None:
            return
        with contextlib.suppress(OSError):
            self._wake[1].send(b"x")
        self._thread.join(timeout=10)
        self._thread = None
        for end in self._wake:
            end.close()
        self._wake = None

    def _listen(self, wake: int) -> None:
        delay = 0.1
        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=5,
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                ) as conn:
                    conn.execute(f"LISTEN {TASKS_CHANNEL}")
                    conn.execute(f"LISTEN {WORK_CHANNEL}")
                    self.listening.set()
                    self._wake_everyone()
                    delay = 0.1
                    self._serve(conn, wake)
            except psycopg.Error as exc:
                log.warning("LISTEN connection lost (%s); reconnecting", type(exc).__name__)
            except Exception as exc:
                # Anything else (a bad payload, a socket error) must not end the thread: waiters would fall back
                # to polling for the life of the process.
                log.error("LISTEN loop failed (%s); reconnecting", type(exc).__name__)
            finally:
                self.listening.clear()
            self._stopping.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def _serve(self, conn: psycopg.Connection[tuple[object, ...]], wake: int) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([conn.fileno(), wake], [], [], HEARTBEAT_SECONDS)
            if wake in ready:
                return
            if not ready:
                conn.execute("SELECT 1")  # raises if the connection died quietly
            for note in conn.notifies(timeout=0):
                if note.channel == WORK_CHANNEL:
                    self.work.set()
                else:
                    super().publish(parse_payload(note.payload))

    def _wake_everyone(self) -> None:
        with self._lock:
            waiting = list(self._listeners)
        super().publish(waiting)
        self.work.set()
