"""A person's data as erasure finds and removes it: vault addresses, revealed values, profile, and the SQLite
file tidying that makes a removal stick (secure delete, index merge, WAL checkpoint)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update

from contactvault.server.db.engine import Database, Transaction
from contactvault.server.db.tables import contact_points, event_personnel, events, personnel, task_items, unlocks
from contactvault.server.domain.tasks import UNFINISHED_ITEM_STATUSES

log = logging.getLogger("contactvault.erasure")


def vault_holders(conn: Transaction, kind: str, digests: Sequence[bytes]) -> set[int]:
    """The people whose vault address of ``kind`` has one of these keyed hashes (legacy or canonical)."""
    wanted = list(digests)
    query = select(contact_points.c.personnel_id).where(
        contact_points.c.channel == kind,
        or_(contact_points.c.value_hash.in_(wanted), contact_points.c.canonical_hash.in_(wanted)),
    )
    return {int(pid) for (pid,) in conn.execute(query)}


def vault_hashes(conn: Transaction, person_id: int) -> list[tuple[str, bytes]]:
    """The (channel, keyed hash) of each of a person's vault addresses: the legacy hash and, when it differs, the
    canonical one."""
    query = select(contact_points.c.channel, contact_points.c.value_hash, contact_points.c.canonical_hash).where(
        contact_points.c.personnel_id == person_id
    )
    found: list[tuple[str, bytes]] = []
    for channel, legacy, canonical in conn.execute(query):
        found.append((str(channel), bytes(legacy)))
        if canonical is not None and bytes(canonical) != bytes(legacy):
            found.append((str(channel), bytes(canonical)))
    return found


def delete_vault_addresses(conn: Transaction, person_id: int) -> int:
    """Delete a person's ``contact_points``; how many."""
    return int(conn.execute(delete(contact_points).where(contact_points.c.personnel_id == person_id)).rowcount)


def revealed_per_account(conn: Transaction, person_id: int) -> dict[int, int]:
    """Per account, how many of its unlocks of this person still hold a value."""
    query = (
        select(unlocks.c.account_id, func.count())
        .where(unlocks.c.personnel_id == person_id, unlocks.c.value_encrypted.is_not(None))
        .group_by(unlocks.c.account_id)
    )
    return {int(account): int(n) for account, n in conn.execute(query)}


def erase_revealed(conn: Transaction, person_id: int, now: datetime) -> int:
    """Remove the value from every unlock of this person (the rows stay); how many held one."""
    result = conn.execute(
        update(unlocks)
        .where(unlocks.c.personnel_id == person_id, unlocks.c.value_encrypted.is_not(None))
        .values(value_encrypted=None, value_removed_at=now)
    )
    return int(result.rowcount)


def unlocking_accounts(conn: Transaction, person_id: int) -> set[int]:
    """Every account that has an unlock of this person (with or without its value)."""
    query = select(unlocks.c.account_id).where(unlocks.c.personnel_id == person_id).distinct()
    return {int(a) for (a,) in conn.execute(query)}


def unfinished_items(conn: Transaction, person_id: int) -> int:
    """How many task items for this person are still to be worked on."""
    query = select(func.count()).where(
        task_items.c.personnel_id == person_id, task_items.c.status.in_([s.value for s in UNFINISHED_ITEM_STATUSES])
    )
    return int(conn.execute(query).scalar_one())


def delete_profile(conn: Transaction, person_id: int) -> None:
    """Delete the directory profile and its event links (keeping event head counts true)."""
    linked = [
        int(e)
        for (e,) in conn.execute(select(event_personnel.c.event_id).where(event_personnel.c.personnel_id == person_id))
    ]
    conn.execute(delete(event_personnel).where(event_personnel.c.personnel_id == person_id))
    if linked:
        conn.execute(
            update(events)
            .where(events.c.id.in_(linked), events.c.personnel_count > 0)
            .values(personnel_count=events.c.personnel_count - 1)
        )
    conn.execute(delete(personnel).where(personnel.c.id == person_id))


@contextmanager
def secure_delete(conn: Transaction) -> Iterator[None]:
    """SQLite: deleted rows are overwritten with zeros instead of lingering in free pages (no-op elsewhere)."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        if sqlite:
            conn.exec_driver_sql("PRAGMA secure_delete = OFF")


def compact(db: Database, rebuilt_text_index: bool) -> None:
    """SQLite, best effort, after the erasure committed: merge the search index (drops a deleted name's tokens)
    and fold the WAL into the file (nothing to do elsewhere)."""
    if not db.is_sqlite:
        return
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if rebuilt_text_index:
            cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute("INSERT INTO personnel_fts(personnel_fts) VALUES('optimize')")
            cursor.execute("PRAGMA secure_delete = OFF")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    except Exception as exc:  # the erasure itself is committed; this only tidies the file
        log.warning("could not compact the SQLite file after an erasure: %s", type(exc).__name__)
    finally:
        raw.close()
