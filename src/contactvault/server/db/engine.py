"""Engines and transactions; the only place that knows SQLite from PostgreSQL at connection level."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

# What services name a transaction handle, a write that lost a race to a unique index, and any storage failure,
# without importing sqlalchemy themselves.
Transaction = Connection
Conflict = IntegrityError
StorageError = SQLAlchemyError

SQLITE_BUSY_TIMEOUT_MS = 60_000
# PostgreSQL: while the server is unreachable a request should fail fast (503) rather than hang.
PG_CONNECT_TIMEOUT_SECONDS = 5
PG_POOL_TIMEOUT_SECONDS = 10
# Set while service code runs on the event loop's own thread (``Database.on_loop``): a write there is refused.
_ON_LOOP: ContextVar[bool] = ContextVar("contactvault_db_on_loop", default=False)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for ``url`` with the pragmas and pool settings this service relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=PG_POOL_TIMEOUT_SECONDS,
        # A connection that died with a database restart is noticed at checkout and replaced.
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS, "application_name": "contactvault"},
    )


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        # 20 kept; beyond that a checkout opens another connection rather than wait (a file open, no server
        # to overload): reads on the event loop (``Database.on_loop``) must never wait for a connection that
        # the thread pool's requests or the worker hold. The threads in use bound the number in practice.
        pool_size=20,
        max_overflow=-1,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below): pysqlite's implicit transactions cannot say IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write transaction takes the write lock up front, so it never fails to upgrade a read lock
        # ("database is locked") half way through; it waits up to busy_timeout instead.
        # Straight to the driver: through ``exec_driver_sql`` (events, result set-up) it cost a read transaction
        # as much as its query (docs/benchmarks.md, "Per-request cost").
        mode = "BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN"
        conn.connection.driver_connection.execute(mode)  # type: ignore[union-attr]

    return engine


def is_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def ping(conn: Transaction) -> None:
    """Ask the database the cheapest question there is (readiness probes)."""
    conn.execute(text("SELECT 1"))


class WriteGate:
    """SQLite's one writer at a time, handed over without sleeps.

    Threads of this process queue on a lock; processes sharing the file (``serve --workers N``, the CLI beside a
    server) queue on an ``flock`` of a sidecar file, ``<database>-writer.lock``. The kernel wakes the next holder
    the moment the lock is released, where SQLite's busy handler polls with sleeps of up to 100 ms (a p95 of
    430 ms for submissions with two processes: docs/benchmarks.md). A process that dies holding it releases it
    with its descriptors. Writers that do not pass here (migrations, another program) still meet at
    ``BEGIN IMMEDIATE`` under ``busy_timeout``. Re-entrant: a nested write of the holding thread passes.
    """

    def __init__(self, lock_path: str | None) -> None:
        self._threads = threading.RLock()
        self._path = lock_path
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._depth == 0 and self._path is not None:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks without the GIL until the holder lets go
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1

    def __exit__(self, *_: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        """Close the lock file (the gate opens it again if used afterwards)."""
        with self._threads:
            if self._fd is not None and self._depth == 0:
                os.close(self._fd)
                self._fd = None


class Database:
    """The unit of work: every service function opens exactly one transaction through this."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = is_sqlite(engine)
        # The change marker (below): one private connection that never writes, so every commit is another's.
        path = engine.url.database if self.is_sqlite else None
        self._marker_path = path if path and path != ":memory:" and not path.startswith("file:") else None
        # SQLite has one writer at a time: writers queue at the gate, not in SQLite's busy handler (WriteGate).
        self._write_gate: WriteGate | nullcontext[None] = (
            WriteGate(self._marker_path + "-writer.lock" if self._marker_path else None)
            if self.is_sqlite
            else nullcontext()
        )
        self._marker_connection: sqlite3.Connection | None = None
        self._marker_lock = threading.Lock()
        # Reads may run on the event loop's thread (``on_loop``): SQLite files only.
        self.reads_on_loop = self._marker_path is not None

    @contextmanager
    def on_loop(self) -> Iterator[None]:
        """Mark the reads in this block as running on the calling (event-loop) thread, and refuse writes there.

        For SQLite files only (``reads_on_loop``): a read of a few indexed rows costs less than the hand-over to the
        thread pool and back; in WAL mode a reader never waits for a writer, and the pool never makes a checkout
        wait (no overflow limit). A write may wait for SQLite's write lock, and the event loop must never wait.
        """
        token = _ON_LOOP.set(True)
        try:
            yield
        finally:
            _ON_LOOP.reset(token)

    def change_marker(self) -> int | None:
        """A number that changes whenever any connection of any process commits to this database, read without a
        transaction (microseconds): SQLite's ``PRAGMA data_version`` on a private connection. None where there is
        no such cheap marker (PostgreSQL, in-memory SQLite): a cache keyed by it must then read afresh."""
        if self._marker_path is None:
            return None
        with self._marker_lock:
            if self._marker_connection is None:
                self._marker_connection = sqlite3.connect(
                    self._marker_path, check_same_thread=False, isolation_level=None, timeout=5
                )
            row = self._marker_connection.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction, committed when the block ends without an exception."""
        if _ON_LOOP.get():
            raise RuntimeError("a write must not run on the event loop (Database.on_loop)")
        with self._write_gate, self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction that sees one consistent snapshot in all its statements."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                # READ COMMITTED would give each statement its own snapshot: a task read before its items, or
                # buckets before postings, could come from different moments. Read-only also refuses a stray write.
                # (SQLite: a deferred transaction in WAL mode already reads one snapshot.)
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        """Close every pooled connection (and the change marker's)."""
        with self._marker_lock:
            if self._marker_connection is not None:
                self._marker_connection.close()
                self._marker_connection = None
        if isinstance(self._write_gate, WriteGate):
            self._write_gate.close()
        self.engine.dispose()
