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
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from contactvault.server.db.engine import SQLITE_BUSY_TIMEOUT_MS, make_engine

log = logging.getLogger("contactvault.ratelimit")

TABLE = "rate_limit_counters"
_CREATE = (
    "CREATE {unlogged}TABLE IF NOT EXISTS rate_limit_counters ("
    "name VARCHAR(300) PRIMARY KEY, win BIGINT NOT NULL, hits INTEGER NOT NULL)"
)
_HIT = text(
    "INSERT INTO rate_limit_counters (name, win, hits) VALUES (:name, :win, 1) "
    "ON CONFLICT (name) DO UPDATE SET "
    "hits = CASE WHEN rate_limit_counters.win = excluded.win THEN rate_limit_counters.hits + 1 ELSE 1 END, "
    "win = excluded.win "
    "RETURNING hits"
)
_PRUNE = text("DELETE FROM rate_limit_counters WHERE win < :win")
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
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # autocommit: each upsert is its own (write) transaction
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=OFF")  # counters: a power cut may lose the last window, no more
        cursor.close()

    return engine


class DatabaseCounters:
    """Fixed-window hit counters in a table; ``hit`` answers the new count, or None while the storage is down."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.is_sqlite = url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if not url.database or url.database == ":memory:":
                raise ValueError("database:// rate limits need an SQLite file, not an in-memory database")
            self.engine = _sqlite_counters_engine(url.database)
        else:
            self.engine = make_engine(database_url, pool_size=5)
        self._pruned_window: int | None = None
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(_CREATE.format(unlogged="" if self.is_sqlite else "UNLOGGED ")))

    def hit(self, name: str, window: int) -> int | None:
        """Count one hit for ``name`` in ``window`` (one statement); the window's count so far."""
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                if self._pruned_window != window:
                    self._pruned_window = window
                    conn.execute(_PRUNE, {"win": window - 1})
                return int(conn.execute(_HIT, {"name": name, "win": window}).scalar_one())
        except SQLAlchemyError as exc:
            log.warning("rate limit storage unavailable (%s); request admitted", type(exc).__name__)
            return None

    def reset(self) -> None:
        """Forget every count."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(_RESET)

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()
