"""Transaction-scoped advisory locks that order use cases against each other (PostgreSQL only: on SQLite every
write transaction already holds the database's one write lock)."""

from __future__ import annotations

from sqlalchemy import Connection, text

# A fixed key in PostgreSQL's 64-bit advisory-lock space ("cv" + 1); nothing else in the database uses it.
SUPPRESSION_GATE = 0x6376_0000_0000_0001


def suppression_gate(conn: Connection, *, exclusive: bool) -> None:
    """Enter the suppression gate until the transaction ends: shared to re-check the opt-out list and then store
    what a worker found (many workers at once), exclusive to change the list or erase (alone).

    Taken first in its transaction, before any row lock, so it cannot join a lock cycle. Under READ COMMITTED the
    statements after it see every erasure that committed before it, and an erasure waits until every record
    step that re-checked without seeing it has committed, so the erasure then finds what that step stored.
    """
    if conn.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    conn.execute(text(f"SELECT {function}(:key)"), {"key": SUPPRESSION_GATE})
