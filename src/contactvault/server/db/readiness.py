"""The database side of ``/readyz``: the SQLite file usable, the schema current, the keys the ones that wrote it."""

from __future__ import annotations

import os
import sqlite3
from functools import cache
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, select

from contactvault.server.db.migrate import alembic_config
from contactvault.server.db.tables import key_checks


def sqlite_file_problem(path: Path, timeout_seconds: float) -> str | None:
    """Why this SQLite file cannot serve now (missing, unreadable, unwritable, locked past the timeout), or None."""
    if not path.is_file():
        return "database file is missing"
    if not os.access(path, os.R_OK | os.W_OK):
        return "database file is not readable and writable by this process"
    try:
        # A connection of its own, not the pool's: it must see the file as it is now, and take the write lock.
        probe = sqlite3.connect(path, timeout=timeout_seconds, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
        finally:
            probe.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return f"database file stayed locked for {timeout_seconds:g} s"
        return f"database file cannot be written ({type(exc).__name__})"
    return None


@cache
def code_heads() -> frozenset[str]:
    """The newest migration revisions this release knows."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def schema_problem(conn: Connection) -> str | None:
    """Why the schema is not the one this release expects, or None (a newer schema is fine: rolling upgrades)."""
    current = set(MigrationContext.configure(conn).get_current_heads())
    if current >= code_heads():
        return None
    script = ScriptDirectory.from_config(alembic_config())
    known = {s.revision for s in script.walk_revisions()}
    if current - known:
        return None  # ahead of this release (docs/deployment.md): migrations are additive
    return "database migrations are not current (run `contactvault admin migrate`)"


def key_problem(conn: Connection, fingerprint: bytes) -> str | None:
    """Why these keys are not the ones this database was written with, or None."""
    stored = conn.execute(select(key_checks.c.fingerprint).where(key_checks.c.name == "hash_key")).scalar()
    if stored is not None and bytes(stored) != fingerprint:
        return "the configured keys are not the ones this database was written with"
    return None
