"""Directory imports as stored: look up what is there by key, upsert what changed, recount events.

Tables are named by the import record type they hold (``event``, ``company``, ``person``, ``attendance``,
``contact_point``); rows are plain ``{column: value}`` dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Table, distinct, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import companies, contact_points, event_personnel, events, personnel

# Ids per IN (...) list when comparing with the database: well under SQLite's bound-parameter limit.
LOOKUP_CHUNK = 500
# Rows per upsert statement.
WRITE_CHUNK = 5000

_TABLES: dict[str, Table] = {
    "event": events,
    "company": companies,
    "person": personnel,
    "attendance": event_personnel,
    "contact_point": contact_points,
}
# The natural key of each record type.
KEYS: dict[str, tuple[str, ...]] = {
    "event": ("id",),
    "company": ("id",),
    "person": ("id",),
    "attendance": ("event_id", "personnel_id"),
    "contact_point": ("personnel_id", "channel"),
}


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def existing_ids(conn: Transaction, kind: str, ids: Sequence[int]) -> set[int]:
    """Which of these ids of an ``event``, ``company`` or ``person`` are stored."""
    table = _TABLES[kind]
    found: set[int] = set()
    for chunk in _chunks(ids, LOOKUP_CHUNK):
        found.update(int(i) for (i,) in conn.execute(select(table.c.id).where(table.c.id.in_(chunk))))
    return found


def stored_rows(conn: Transaction, kind: str, keys: Sequence[Any]) -> dict[Any, dict[str, Any]]:
    """The stored rows of these keys (an id, or a tuple for a composite key), by key."""
    table = _TABLES[kind]
    names = KEYS[kind]
    composite = len(names) > 1
    columns = [table.c[n] for n in names]
    match = tuple_(*columns) if composite else columns[0]
    found: dict[Any, dict[str, Any]] = {}
    for chunk in _chunks(keys, LOOKUP_CHUNK):
        for row in conn.execute(select(table).where(match.in_(chunk))):
            mapping = dict(row._mapping)
            found[tuple(mapping[n] for n in names) if composite else mapping[names[0]]] = mapping
    return found


def upsert(conn: Transaction, kind: str, rows: Iterable[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (natural key) DO UPDATE, for SQLite and PostgreSQL."""
    rows = list(rows)
    if not rows:
        return
    table, keys = _TABLES[kind], KEYS[kind]
    name = conn.dialect.name
    if name == "sqlite":
        stmt: Any = sqlite.insert(table)
    elif name == "postgresql":
        stmt = postgresql.insert(table)
    else:
        raise NotImplementedError(f"importing into {name} is not supported")
    columns = [c for c in rows[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns})
    for chunk in _chunks(rows, WRITE_CHUNK):
        conn.execute(stmt, list(chunk))


def recount_events(conn: Transaction, event_ids: Sequence[int]) -> None:
    """Recompute ``personnel_count`` and ``exhibitor_count`` of these events from their attendance."""
    here = event_personnel.c.event_id == events.c.id
    people = select(func.count()).select_from(event_personnel).where(here).scalar_subquery()
    exhibitors = (
        select(func.count(distinct(event_personnel.c.exhibitor_id)))
        .select_from(event_personnel)
        .where(here)
        .scalar_subquery()
    )
    for chunk in _chunks(event_ids, LOOKUP_CHUNK):
        conn.execute(
            update(events).where(events.c.id.in_(chunk)).values(personnel_count=people, exhibitor_count=exhibitors)
        )
