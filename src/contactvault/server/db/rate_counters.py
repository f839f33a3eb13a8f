"""Rate-limit counters in a table, shared by every process of ``serve --workers N`` (``database://`` storage).

One row per (policy, identity) holds the current fixed window's index and its hit count; a hit is one statement,
an upsert that starts the count again when the window moved on and returns the new count, so concurrent hits in
any number of processes never admit more than the limit. Rows of identities not seen for a window are deleted by
the first hit of each new window in each process (the table stays as large as the set of active callers).

The counters are not data: losing them forgives at most one window. So they live where they cost least:

- SQLite: a sidecar file beside the database (``<name>.ratelimit.db``), so a hit never waits for the main file's
  write lock (held by the worker's record batches) and does not disturb the long-polls' ``PRAGMA data_version``.
- PostgreSQL: an ``UNLOGGED`` table in the main database (no WAL traffic; emptied after a crash, which is fine).

The table is created at start with ``IF NOT EXISTS`` rather than by a migration: it holds no data to migrate.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, ProgrammingError, SQLAlchemyError

from contactvault.server.db.engine import (
    PG_CONNECT_TIMEOUT_SECONDS,
    PG_POOL_TIMEOUT_SECONDS,
    SQLITE_BUSY_TIMEOUT_MS,
    WriteGate,
)

log = logging.getLogger("contactvault.ratelimit")

TABLE = "rate_limit_counters"
_CREATE = (
    "CREATE {unlogged}TABLE IF NOT EXISTS rate_limit_counters ("
    "name VARCHAR(300) PRIMARY KEY, win BIGINT NOT NULL, hits INTEGER NOT NULL)"
)
# Written for the driver (sqlite3's :name, psycopg's %(name)s) and run on a raw pooled connection: a hit is on
# every request, and SQLAlchemy's statement and transaction handling cost more than the statement itself.
_HIT = (
    "INSERT INTO rate_limit_counters (name, win, hits) VALUES ({name}, {win}, 1) "
    "ON CONFLICT (name) DO UPDATE SET "
    "hits = CASE WHEN rate_limit_counters.win = excluded.win THEN rate_limit_counters.hits + 1 ELSE 1 END, "
    "win = excluded.win "
    "RETURNING hits"
)
_PRUNE = "DELETE FROM rate_limit_counters WHERE win < {win}"
_RESET = text("DELETE FROM rate_limit_counters")


def sidecar_path(database: str) -> Path:
    """Where an SQLite database's counters live."""
    return Path(database).with_suffix(".ratelimit.db")


def _sqlite_counters_engine(database: str) -> Engine:
    path = sidecar_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=5,
        max_overflow=20,
        isolation_level="AUTOCOMMIT",  # each upsert is its own (write) transaction
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=OFF")  # counters: a power cut may lose the last window, no more
        cursor.close()

    return engine


def _pg_counters_engine(url: str) -> Engine:
    # No pre-ping (a round trip per hit): a connection that fails is invalidated by ``hit`` instead.
    return create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_timeout=PG_POOL_TIMEOUT_SECONDS,
        pool_recycle=1800,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS, "application_name": "contactvault-ratelimit"},
        isolation_level="AUTOCOMMIT",  # each upsert is its own transaction: no BEGIN/COMMIT round trips
    )


class DatabaseCounters:
    """Fixed-window hit counters in a table; ``hit`` answers the new count, or None while the storage is down."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self._errors: tuple[type[Exception], ...] = (SQLAlchemyError, sqlite3.Error)
        self.is_sqlite = url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if not url.database or url.database == ":memory:":
                raise ValueError("database:// rate limits need an SQLite file, not an in-memory database")
            self.engine = _sqlite_counters_engine(url.database)
            # Every hit writes: the processes' hits queue on an flock, not in SQLite's sleeping busy handler.
            self._gate: WriteGate | nullcontext[None] = WriteGate(f"{sidecar_path(url.database)}-writer.lock")
            marks = {"name": ":name", "win": ":win"}
        else:
            import psycopg

            self.engine = _pg_counters_engine(database_url)
            self._gate = nullcontext()
            marks = {"name": "%(name)s", "win": "%(win)s"}
            self._errors = (*self._errors, psycopg.Error)
        self._hit_sql = _HIT.format(**marks)
        self._prune_sql = _PRUNE.format(win=marks["win"])
        self._pruned_window: int | None = None
        try:
            self._create()
        except Exception:
            self.engine.dispose()
            raise

    def _create(self) -> None:
        create = text(_CREATE.format(unlogged="" if self.is_sqlite else "UNLOGGED "))
        try:
            with self.engine.connect() as conn:
                conn.execute(create)
        except (IntegrityError, ProgrammingError):
            # PostgreSQL: processes starting together race in CREATE ... IF NOT EXISTS (a unique violation in the
            # catalogue, or "type already exists", for all but one). The table is there; prove it.
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1 FROM rate_limit_counters LIMIT 1"))

    def hit(self, name: str, window: int) -> int | None:
        """Count one hit for ``name`` in ``window`` (one statement); the window's count so far."""
        try:
            conn = self.engine.raw_connection()
        except self._errors as exc:
            log.warning("rate limit storage unavailable (%s); request admitted", type(exc).__name__)
            return None
        try:
            with self._gate:
                return self._hit(conn, name, window)
        except self._errors as exc:
            conn.invalidate()  # a connection that failed (a restarted server) is replaced, not pooled again
            log.warning("rate limit storage unavailable (%s); request admitted", type(exc).__name__)
            return None
        finally:
            conn.close()  # back to the pool (a no-op after invalidate)

    def _hit(self, conn: Any, name: str, window: int) -> int:
        cursor = conn.cursor()
        if self._pruned_window != window:
            self._pruned_window = window
            cursor.execute(self._prune_sql, {"win": window - 1})
        cursor.execute(self._hit_sql, {"name": name, "win": window})
        rows = cursor.fetchall()  # to the end: a write stepped only part way is rolled back (SQLite)
        cursor.close()
        return int(rows[0][0])

    def reset(self) -> None:
        """Forget every count."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(_RESET)

    def dispose(self) -> None:
        """Close the pooled connections (and the lock file)."""
        if isinstance(self._gate, WriteGate):
            self._gate.close()
        self.engine.dispose()
