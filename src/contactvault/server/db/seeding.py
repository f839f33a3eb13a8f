"""Bulk loading of a synthetic directory: the seeding connection, set-at-a-time inserts, counts, index upkeep.

The demo (``server/demo/seeding.py``) generates the rows and runs the transactions; this module writes them.
Event and company rows are ``{column: value}`` dicts; people, attendance and contact-point rows are positional
tuples in their table's column order (minus the autoincrement id), the cheapest form for a million rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import LargeBinary, Table, func, insert, select, update

from contactvault.server.db.engine import Database, Transaction
from contactvault.server.db.tables import companies, contact_points, event_personnel, events, personnel

# A larger page cache while seeding: the hash index of the vault takes random inserts.
SEED_CACHE_KIB = 64 * 1024


@contextmanager
def seeding_connection(db: Database) -> Iterator[Transaction]:
    """One write connection for a whole run (each chunk opens its own ``conn.begin()`` on it).

    On SQLite its enlarged page cache serves every chunk's transaction; the previous size is restored at the end.
    """
    with db.engine.connect().execution_options(write=True) as conn:
        if not db.is_sqlite:
            yield conn
            return
        previous = int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SEED_CACHE_KIB}")
        conn.commit()  # the PRAGMA statements ran in an (empty) transaction
        try:
            yield conn
        finally:
            conn.rollback()
            conn.exec_driver_sql(f"PRAGMA cache_size = {previous}")
            conn.commit()


def directory_sizes(conn: Transaction) -> list[tuple[str, int]]:
    """``(table, rows)`` of the directory's people, companies and events, in that order."""
    return [
        (table.name, int(conn.execute(select(func.count()).select_from(table)).scalar_one()))
        for table in (personnel, companies, events)
    ]


def insert_events(conn: Transaction, rows: Sequence[dict[str, Any]]) -> None:
    """Insert event rows (``{column: value}``)."""
    conn.execute(insert(events), rows)


def insert_companies(conn: Transaction, rows: Sequence[dict[str, Any]]) -> None:
    """Insert company rows (``{column: value}``)."""
    conn.execute(insert(companies), rows)


def insert_people(conn: Transaction, rows: list[tuple[Any, ...]]) -> None:
    """Insert positional ``personnel`` rows."""
    _insert_rows(conn, personnel, rows)


def insert_attendances(conn: Transaction, rows: list[tuple[Any, ...]]) -> None:
    """Insert positional ``event_personnel`` rows."""
    _insert_rows(conn, event_personnel, rows)


def insert_contact_points(conn: Transaction, rows: list[tuple[Any, ...]]) -> None:
    """Insert positional ``contact_points`` rows (no id: the database numbers them)."""
    _insert_rows(conn, contact_points, rows)


def _insert_rows(conn: Transaction, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Insert positional rows (in the table's column order, minus any autoincrement id left out)."""
    if not rows:
        return
    columns = [c for c in table.columns if not (c.autoincrement is True and c.primary_key)][: len(rows[0])]
    if conn.dialect.name == "sqlite":
        # The DBAPI executemany skips Core's per-row parameter handling: a chunk's inserts took 1.7x less time.
        # Dates need Core's text form; bytes go to sqlite3 as they are.
        processors = [
            None if isinstance(c.type, LargeBinary) else c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            for c in columns
        ]
        if any(processors):
            rows = [tuple(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in rows]
        names = ", ".join(c.name for c in columns)
        marks = ", ".join("?" for _ in columns)
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)  # noqa: S608
        finally:
            cursor.close()
        return
    keys = [c.name for c in columns]
    conn.execute(insert(table), [dict(zip(keys, row, strict=True)) for row in rows])


def set_event_counts(conn: Transaction, counts: Sequence[tuple[int, int, int, int]]) -> None:
    """Per ``(event_id, personnel_count, exhibitor_count, attendee_count)``: store the event's counts."""
    for event_id, personnel_count, exhibitor_count, attendee_count in counts:
        conn.execute(
            update(events)
            .where(events.c.id == event_id)
            .values(personnel_count=personnel_count, exhibitor_count=exhibitor_count, attendee_count=attendee_count)
        )


def tidy_search_indexes(conn: Transaction) -> None:
    """After a bulk load: merge the search index segments and give the planner statistics for the new tables."""
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql("ANALYZE companies, personnel, event_personnel, contact_points")
        return
    # Merge the FTS segments written chunk by chunk, and give the planner statistics for the new tables.
    conn.exec_driver_sql("INSERT INTO companies_fts(companies_fts) VALUES ('optimize')")
    conn.exec_driver_sql("INSERT INTO personnel_fts(personnel_fts) VALUES ('optimize')")
    conn.exec_driver_sql("PRAGMA analysis_limit = 1000")
    conn.exec_driver_sql("ANALYZE")
