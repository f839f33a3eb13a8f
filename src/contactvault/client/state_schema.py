"""The state file's schema and its migrations (``PRAGMA user_version`` numbers them).

1: runs, batches, people, outcomes, contacts. 2: ``contacts.source`` (where a delivered value came from: the
import's label, ``pattern`` for an address the server inferred, a provider's name); files of version 1 gain the
column, empty for the contacts they already hold. A file of a newer version is refused, never downgraded.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import cast

from ._errors import StateError

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, channel TEXT NOT NULL, base_url TEXT NOT NULL,
    status TEXT NOT NULL, max_credits INTEGER, balance_before INTEGER, balance_after INTEGER,
    requested_count INTEGER NOT NULL, created_at TEXT NOT NULL, finished_at TEXT);
CREATE TABLE IF NOT EXISTS batches (
    run_id TEXT NOT NULL REFERENCES runs(run_id), seq INTEGER NOT NULL, personnel_ids TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE, prepared INTEGER NOT NULL DEFAULT 0, max_credits INTEGER,
    task_id TEXT, status TEXT NOT NULL, credits_charged INTEGER, submitted_at TEXT, completed_at TEXT,
    PRIMARY KEY (run_id, seq));
CREATE TABLE IF NOT EXISTS people (
    run_id TEXT NOT NULL REFERENCES runs(run_id), personnel_id TEXT NOT NULL, full_name TEXT, title TEXT,
    company_name TEXT, PRIMARY KEY (run_id, personnel_id));
CREATE TABLE IF NOT EXISTS outcomes (
    run_id TEXT NOT NULL REFERENCES runs(run_id), personnel_id TEXT NOT NULL, outcome TEXT NOT NULL,
    code TEXT, task_id TEXT, PRIMARY KEY (run_id, personnel_id));
CREATE TABLE IF NOT EXISTS contacts (
    personnel_id TEXT NOT NULL, channel TEXT NOT NULL, event_id TEXT NOT NULL, value TEXT NOT NULL,
    full_name TEXT, title TEXT, company_name TEXT, verification TEXT, unlocked_at TEXT, run_id TEXT,
    task_id TEXT, source TEXT, PRIMARY KEY (personnel_id, channel));
"""

# What brings a file of version N (the key) to N + 1.
_STEPS = {1: "ALTER TABLE contacts ADD COLUMN source TEXT"}


def _version(conn: sqlite3.Connection) -> int:
    return cast(int, conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Path | None) -> None:
    """Bring the file to SCHEMA_VERSION (a new file is created at it); a newer file is a StateError."""
    version = _version(conn)
    if version > SCHEMA_VERSION:
        raise StateError(f"state file {path} was written by a newer contactvault (schema {version})")
    if 0 < version < SCHEMA_VERSION:
        # One writer at a time: another process may be migrating the same file; read the version again under
        # the write lock so each step runs once.
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = _version(conn)
            while 0 < current < SCHEMA_VERSION:
                conn.execute(_STEPS[current])
                current += 1
            conn.execute(f"PRAGMA user_version = {current}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    # IF NOT EXISTS makes this safe to race; executescript commits on its own.
    conn.executescript(SCHEMA)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
