"""Alembic environment: runs on the connection ``db.migrate`` hands over (no URL of its own)."""

from __future__ import annotations

from alembic import context

from contactvault.server.db.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
