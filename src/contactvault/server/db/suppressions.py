"""The opt-out list as stored: (kind, keyed hash) pairs, never a value."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from contactvault.server.db.engine import Transaction
from contactvault.server.db.errors import AlreadyExists
from contactvault.server.db.tables import suppressions

# Built once: a resolver asks it for every batch, often of one person, and building the statement anew (its cache
# key and bound limit) cost several times running it.
_ANY_LISTED = select(suppressions.c.id).limit(1)


def add(conn: Transaction, kind: str, digest: bytes, now: datetime) -> None:
    """Put one entry on the list; AlreadyExists when it is there (the transaction is then unusable)."""
    try:
        conn.execute(insert(suppressions).values(kind=kind, value_hash=digest, created_at=now))
    except IntegrityError as exc:
        raise AlreadyExists("suppression") from exc


def remove(conn: Transaction, kind: str, digest: bytes) -> bool:
    """Take one entry off the list; False when it was not there."""
    result = conn.execute(delete(suppressions).where(suppressions.c.kind == kind, suppressions.c.value_hash == digest))
    return bool(result.rowcount)


def any_listed(conn: Transaction) -> bool:
    """Whether the list has any entry at all."""
    return conn.execute(_ANY_LISTED).first() is not None


def present(conn: Transaction, hashes: Sequence[bytes]) -> set[tuple[str, bytes]]:
    """The (kind, hash) entries stored under any of these hashes."""
    if not hashes:
        return set()
    query = select(suppressions.c.kind, suppressions.c.value_hash).where(suppressions.c.value_hash.in_(list(hashes)))
    return {(str(kind), bytes(digest)) for kind, digest in conn.execute(query)}


def add_many(conn: Transaction, entries: Sequence[tuple[str, bytes]], now: datetime) -> None:
    """Insert entries known to be new."""
    if entries:
        conn.execute(insert(suppressions), [{"kind": k, "value_hash": d, "created_at": now} for k, d in entries])
