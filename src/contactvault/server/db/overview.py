"""What an operator sees first: how many people the directory holds, and the oldest account."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from contactvault.server.db.tables import accounts, personnel


def people_count(conn: Connection) -> int:
    """How many people the directory holds."""
    return int(conn.execute(select(func.count()).select_from(personnel)).scalar_one())


def oldest_account_id(conn: Connection) -> int | None:
    """The first account created, if any."""
    return conn.execute(select(accounts.c.id).order_by(accounts.c.created_at).limit(1)).scalar()
