"""Directory search on PostgreSQL: the pg_trgm indexes of migration 0001 serve every text filter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Select, func, select, text

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db import directory
from contactvault.server.db.tables import personnel
from tests.factories import make_directory

pytestmark = pytest.mark.postgresql


def _plan(conn: Connection, query: Select[Any]) -> str:
    # The test directory is tiny, where a sequential scan is the right plan; forbid it to prove the indexes fit.
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    sql = query.compile(conn, compile_kwargs={"literal_binds": True})
    return "\n".join(conn.execute(text(f"EXPLAIN {sql}")).scalars())


@pytest.fixture
def conn(postgres_url: str, tmp_path: Path) -> Iterator[Connection]:
    """A read transaction on a PostgreSQL database holding the test directory."""
    rt = build_runtime(Settings(database_url=postgres_url, encryption_key_file=tmp_path / "k.json"))
    make_directory(rt)
    with rt.db.read() as connection:
        yield connection
    rt.db.dispose()


def test_company_search_uses_the_company_name_index(conn: Connection) -> None:
    found = directory.contact_search_query(conn, "acme widg", None, None)
    assert found is not None
    assert not isinstance(found.total, int)
    assert "ix_companies_name_trgm" in _plan(conn, found.total)


@pytest.mark.parametrize(("options", "index"), [({"title_only": True}, "title"), ({"name_only": True}, "name")])
def test_role_and_name_filters_use_their_indexes(conn: Connection, options: dict[str, bool], index: str) -> None:
    cond = directory.person_text_filter(conn, "partnerships example", **options)
    assert cond is not None
    assert f"ix_personnel_{index}_trgm" in _plan(conn, select(func.count()).select_from(personnel).where(cond))


def test_event_search_uses_name_and_title_indexes(conn: Connection) -> None:
    cond = directory.person_text_filter(conn, "partner")
    assert cond is not None
    plan = _plan(conn, select(func.count()).select_from(personnel).where(cond))
    assert "ix_personnel_name_trgm" in plan
    assert "ix_personnel_title_trgm" in plan


@pytest.mark.parametrize(
    ("query", "expected"),
    [("widg", 150), ("WIDGETS gmbh", 150), ("idgets", 0), ("north_wind", 0), ("100%", 0), ("acme_", 0)],
)
def test_words_match_from_their_start_and_wildcards_are_literal(conn: Connection, query: str, expected: int) -> None:
    found = directory.contact_search_query(conn, query, None, None)
    total = 0
    if found is not None:
        assert not isinstance(found.total, int)
        total = conn.execute(found.total).scalar_one()
    assert total == expected
