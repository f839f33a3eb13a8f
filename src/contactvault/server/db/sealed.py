"""Sealed values as stored: batched scans of the tokens in ``unlocks``, ``contact_points`` and ``webhook_secrets``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, literal, select, update

from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import contact_points, unlocks, webhook_secrets

_TABLES = {t.name: t for t in (contact_points, unlocks, webhook_secrets)}
# The tables that hold sealed values, by name, in the order a re-encryption pass walks them.
SEALED_TABLES: tuple[str, ...] = tuple(_TABLES)


@dataclass(frozen=True, slots=True)
class SealedRow:
    """One stored token: its row id, the person it belongs to, and the ciphertext."""

    row_id: int
    personnel_id: int
    token: bytes


def _after(conn: Transaction, table: Table, last_id: int, limit: int | None, channel: str | None) -> list[SealedRow]:
    # Webhook secrets belong to no person: their rows report person 0.
    person = table.c.personnel_id if "personnel_id" in table.c else literal(0).label("personnel_id")
    query = (
        select(table.c.id, person, table.c.value_encrypted)
        .where(table.c.id > last_id, table.c.value_encrypted.is_not(None))
        .order_by(table.c.id)
        .limit(limit)
    )
    if channel is not None:
        query = query.where(table.c.channel == channel)
    return [SealedRow(int(r.id), int(r.personnel_id), bytes(r.value_encrypted)) for r in conn.execute(query)]


def unlock_tokens_after(
    conn: Transaction, last_id: int, limit: int | None, *, channel: str | None = None
) -> list[SealedRow]:
    """Up to ``limit`` (None: all) revealed values (of ``channel``, if given) with a row id above ``last_id``, in id
    order."""
    return _after(conn, unlocks, last_id, limit, channel)


def contact_point_tokens_after(conn: Transaction, last_id: int, limit: int) -> list[SealedRow]:
    """Up to ``limit`` vault values with a row id above ``last_id``, in id order."""
    return _after(conn, contact_points, last_id, limit, None)


def tokens_after(conn: Transaction, table: str, last_id: int, limit: int) -> list[SealedRow]:
    """Up to ``limit`` values of one of ``SEALED_TABLES`` with a row id above ``last_id``, in id order."""
    return _after(conn, _TABLES[table], last_id, limit, None)


def replace_token(conn: Transaction, table: str, row_id: int, old: bytes, new: bytes) -> bool:
    """Swap a row's token for ``new`` if it still is ``old``; whether it did (False: changed meanwhile)."""
    target = _TABLES[table]
    result = conn.execute(
        update(target).where(target.c.id == row_id, target.c.value_encrypted == old).values(value_encrypted=new)
    )
    return result.rowcount == 1
