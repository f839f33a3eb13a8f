"""Migrations on PostgreSQL: many processes may start (and migrate) at once; an old release starts on a newer
schema; the search indexes of migration 0001 exist; downgrade and upgrade again."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text

from contactvault.server.db.engine import make_engine
from contactvault.server.db.migrate import alembic_config, upgrade
from tests import pg

pytestmark = pytest.mark.postgresql

TRIGRAM_INDEXES = {"ix_companies_name_trgm", "ix_personnel_name_trgm", "ix_personnel_title_trgm"}


@pytest.fixture
def empty_postgres(services: pg.SessionServices) -> Iterator[str]:
    """A PostgreSQL database with nothing in it."""
    try:
        services.template_url()
    except pg.ServiceUnavailable as exc:
        # Only a developer without PostgreSQL gets a skip; `make test` and CI set REQUIRE_ENV, making it a failure.
        if os.environ.get(pg.REQUIRE_ENV):
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    with services.fresh_database(migrated=False) as url:
        yield url


def _scalar(url: str, sql: str) -> object:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def _head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_nodes_starting_together_migrate_once_and_all_start(empty_postgres: str) -> None:
    errors: list[BaseException] = []

    def start_a_node() -> None:
        engine = make_engine(empty_postgres, pool_size=1)
        try:
            upgrade(engine)
        except BaseException as exc:  # the point: no node may fail
            errors.append(exc)
        finally:
            engine.dispose()

    nodes = [threading.Thread(target=start_a_node) for _ in range(4)]
    for node in nodes:
        node.start()
    for node in nodes:
        node.join(timeout=120)
    assert errors == []
    assert _scalar(empty_postgres, "SELECT version_num FROM alembic_version") == _head()
    # This database's advisory locks only: the server is shared with the tests running beside this one (the
    # suppression gate, the mail state), whose advisory locks are theirs.
    held = (
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
    )
    assert _scalar(empty_postgres, held) == 0


def test_migration_creates_the_trigram_indexes(empty_postgres: str) -> None:
    engine = make_engine(empty_postgres, pool_size=1)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            names = set(
                conn.execute(text("SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%gin_trgm_ops%'")).scalars()
            )
            extension = conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")).scalar()
    finally:
        engine.dispose()
    assert names == TRIGRAM_INDEXES
    assert extension == 1


def test_an_older_release_starts_on_a_newer_schema(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        upgrade(engine)  # logs and leaves the schema alone
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999_from_the_future"
    finally:
        engine.dispose()


def test_downgrade_to_nothing_and_up_again(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=1)
    config = alembic_config()
    try:
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
            conn.commit()
            assert conn.execute(text("SELECT count(*) FROM pg_tables WHERE tablename = 'task_items'")).scalar() == 0
        upgrade(engine)
        with engine.connect() as conn:
            names = set(
                conn.execute(text("SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%gin_trgm_ops%'")).scalars()
            )
    finally:
        engine.dispose()
    assert names == TRIGRAM_INDEXES
