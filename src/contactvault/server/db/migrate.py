"""Schema migrations through Alembic; idempotent, safe to run on every start, from many processes at once."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

log = logging.getLogger("contactvault.migrate")

MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL: every process that migrates takes this session-level advisory lock first, so that N API nodes and
# M workers starting together migrate once (the first) while the others wait, then find nothing to do.
MIGRATION_LOCK_KEY = 0x6376_6D69  # "cvmi"


def alembic_config() -> Config:
    """An Alembic config pointing at our migrations folder."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision (nothing happens when it already is, or is newer)."""
    config = alembic_config()
    with engine.connect().execution_options(write=True) as conn:
        locked = conn.dialect.name == "postgresql"
        if locked:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            conn.commit()
        try:
            if _ahead_of_code(conn, config):
                return
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()
        finally:
            if locked:
                if conn.in_transaction():
                    conn.rollback()
                # The connection goes back to the pool, not away: the lock must be given back explicitly.
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                conn.commit()


def _ahead_of_code(conn: Connection, config: Config) -> bool:
    # During a rolling upgrade the schema is migrated before the last old node restarts; an old node must still
    # start (migrations are additive, see docs/deployment.md), not fail on a revision it has never heard of.
    current = MigrationContext.configure(conn).get_current_heads()
    conn.commit()
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    newer = [revision for revision in current if revision not in known]
    if newer:
        log.warning("database schema is at %s, newer than this release; not migrating", ", ".join(newer))
    return bool(newer)
