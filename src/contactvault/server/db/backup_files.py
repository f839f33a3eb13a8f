"""Backup files: for SQLite an online copy through SQLite's backup API while the service writes, an integrity check,
the facts a manifest records, and a restore into a database file; for PostgreSQL (``pg_dump``'s job) the URL to
give its tools."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from contactvault.server.db.engine import SQLITE_BUSY_TIMEOUT_MS, Transaction

# Pages copied per step of the backup API (4 MB at the default page size). Between steps the source is unlocked.
STEP_PAGES = 1024
STEP_SLEEP_SECONDS = 0.005
# A write by another connection between two steps restarts the copy from its first page. Under a steady write load
# a stepped copy may never finish, so after this many steps beyond a clean pass the rest is one step: a single read
# snapshot, which in WAL mode (every database this service opens) never blocks a writer, only delays checkpoints.
RESTART_ALLOWANCE = 2


class _TooManyRestarts(Exception):
    pass


@dataclass(frozen=True, slots=True)
class SnapshotFacts:
    """What a backup file holds: its schema revision and the rows a manifest counts."""

    schema_revision: str | None
    tasks: int
    ledger_entries: int


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another backend or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def libpq_url(url: str) -> str:
    """The URL ``pg_dump`` and ``pg_restore`` accept (no driver suffix), without its password."""
    parsed = make_url(url).set(drivername="postgresql", password=None)
    return parsed.render_as_string(hide_password=False)


def copy_online(
    source: Path, target: Path, *, step_pages: int = STEP_PAGES, on_step: Callable[[int, int], None] | None = None
) -> bool:
    """Copy the database at ``source`` into a new file ``target`` while others write; one consistent snapshot.

    ``on_step(remaining, total)`` is called between steps (the source is not locked then). Returns whether the copy
    fell back to a single step (the stepped copy kept restarting under writes)."""
    with (
        closing(sqlite3.connect(source, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        steps = 0

        def progress(_status: int, remaining: int, total: int) -> None:
            nonlocal steps
            steps += 1
            if on_step is not None:
                on_step(remaining, total)
            if steps > (total // step_pages + 1) * (1 + RESTART_ALLOWANCE):
                raise _TooManyRestarts

        fell_back = False
        try:
            src.backup(dst, pages=step_pages, progress=progress, sleep=STEP_SLEEP_SECONDS)
        except _TooManyRestarts:
            fell_back = True
            src.backup(dst)
        # A self-contained file: no -wal beside it to copy or lose.
        dst.execute("PRAGMA journal_mode=DELETE")
    return fell_back


def restore_into(backup: Path, target: Path) -> None:
    """Replace the content of the database ``target`` (created if missing) with the backup's, in one transaction
    through SQLite's own locking and journal (so a stale ``-wal`` of the old content cannot be replayed over it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        closing(sqlite3.connect(f"file:{backup}?mode=ro", uri=True)) as src,
        closing(sqlite3.connect(target, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)) as dst,
    ):
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")


def integrity_problem(path: Path) -> str | None:
    """Why this file is not a sound SQLite database (``PRAGMA integrity_check``), or None."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        return f"not a readable SQLite database ({exc})"
    if rows != ["ok"]:
        return f"integrity check failed: {'; '.join(rows[:3])}"
    return None


def snapshot_facts(path: Path) -> SnapshotFacts:
    """The schema revision and the counts of tasks and ledger entries in a database file."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"alembic_version", "tasks", "ledger_entries"} <= tables:
            raise ValueError("not a contactvault database (no alembic_version, tasks or ledger_entries table)")
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        tasks = conn.execute("SELECT count(*) FROM tasks").fetchone()[0]
        entries = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
    return SnapshotFacts(None if revision is None else str(revision[0]), int(tasks), int(entries))


@contextmanager
def reading(path: Path) -> Iterator[Transaction]:
    """A read-only transaction on a database file (a backup), for the key checks."""
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", poolclass=NullPool)
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    finally:
        engine.dispose()
