"""The record step's "already unlocked?" check on PostgreSQL: one unique-index probe per id, with any statistics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, insert, text

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.tables import unlocks
from contactvault.server.db.unlocks import unlocked_ids
from contactvault.server.runtime import Runtime
from tests.factories import make_account

pytestmark = pytest.mark.postgresql


@pytest.fixture
def rt(postgres_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A PostgreSQL runtime whose planner statistics say the unlocks table is empty (as on a young database)."""
    runtime = build_runtime(Settings(database_url=postgres_url, encryption_key_file=tmp_path / "k.json"))
    with runtime.db.write() as conn:
        conn.execute(text("ANALYZE unlocks"))
    yield runtime
    runtime.db.dispose()


def test_unlocked_ids_probes_the_unique_index_even_with_stale_statistics(rt: Runtime) -> None:
    account = make_account(rt)
    rows = [
        {
            "account_id": account.id,
            "personnel_id": pid,
            "channel": "email",
            "value_encrypted": b"x",
            "task_id": 1,
            "item_id": pid,
            "created_at": rt.clock.now(),
        }
        for pid in range(1, 3001, 2)
    ]
    with rt.db.write() as conn:
        conn.execute(insert(unlocks), rows)
    plans: list[str] = []

    def explain(conn: object, cursor: object, statement: str, parameters: object, context: object, many: bool) -> None:
        if "FROM unnest" in statement and not plans:
            cursor.execute("EXPLAIN " + statement, parameters)  # type: ignore[attr-defined]
            plans.append("\n".join(r[0] for r in cursor.fetchall()))  # type: ignore[attr-defined]

    event.listen(rt.db.engine, "before_cursor_execute", explain)
    with rt.db.read() as conn:
        for _ in range(8):  # past psycopg's prepare threshold: the generic plan must be as good
            found = unlocked_ids(conn, account.id, "email", list(range(1, 2001)))
            assert found == set(range(1, 2001, 2))
        assert unlocked_ids(conn, account.id, "phone", list(range(1, 2001))) == set()
    assert "uq_unlocks_account_person_channel" in plans[0]
    assert "Nested Loop" in plans[0]
