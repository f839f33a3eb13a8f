"""db/imports: upserts by natural key (single and composite), lookups by the same keys, event head counts."""

from __future__ import annotations

from sqlalchemy import select

from contactvault.server.db import imports
from contactvault.server.db.tables import events
from contactvault.server.runtime import Runtime


def test_upsert_inserts_then_updates_by_id(rt: Runtime) -> None:
    with rt.db.write() as conn:
        imports.upsert(conn, "event", [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}])
        imports.upsert(conn, "event", [{"id": 2, "name": "B2"}])
        stored = imports.stored_rows(conn, "event", [1, 2, 3])
        assert imports.existing_ids(conn, "event", [1, 2, 3]) == {1, 2}
    assert {k: v["name"] for k, v in stored.items()} == {1: "A", 2: "B2"}


def test_composite_keys_and_recount(rt: Runtime) -> None:
    with rt.db.write() as conn:
        imports.upsert(conn, "event", [{"id": 1, "name": "A"}])
        imports.upsert(conn, "company", [{"id": 5, "name": "C"}])
        imports.upsert(conn, "person", [{"id": 7, "full_name": "P"}, {"id": 8, "full_name": "Q"}])
        attendance = [{"event_id": 1, "personnel_id": p, "source_types": "speaker", "exhibitor_id": 5} for p in (7, 8)]
        imports.upsert(conn, "attendance", attendance)
        imports.upsert(conn, "attendance", [{**attendance[0], "source_types": "exhibitor"}])
        stored = imports.stored_rows(conn, "attendance", [(1, 7), (1, 8), (1, 9)])
        imports.recount_events(conn, [1])
        counts = conn.execute(select(events.c.personnel_count, events.c.exhibitor_count)).one()
    assert {k: v["source_types"] for k, v in stored.items()} == {(1, 7): "exhibitor", (1, 8): "speaker"}
    assert tuple(counts) == (2, 1)
