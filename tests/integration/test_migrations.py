"""The migrations build exactly the schema ``tables.py`` describes, and go down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from contactvault.server.db.migrate import alembic_config, upgrade
from contactvault.server.db.tables import metadata
from contactvault.server.runtime import Runtime

SEARCH_TABLES = ("companies_fts", "personnel_fts")  # dialect-specific search structures, made by 0001 by hand


def _differences(rt: Runtime) -> list[object]:
    with rt.db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_object": lambda obj, name, kind, *_: (
                    not (kind == "table" and str(name).startswith(SEARCH_TABLES))
                )
            },
        )
        diffs = compare_metadata(context, metadata)
    # Alembic reports expression indexes (the trigram ones) without consulting include_name.
    return [d for d in diffs if not (d[0] == "remove_index" and str(d[1].name).endswith("_trgm"))]


def test_migrated_schema_matches_the_tables_module(rt: Runtime) -> None:
    assert _differences(rt) == []


def test_downgrade_to_nothing_and_upgrade_again(rt: Runtime) -> None:
    config = alembic_config()
    with rt.db.engine.connect().execution_options(write=True) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
        conn.commit()
    upgrade(rt.db.engine)
    assert _differences(rt) == []
