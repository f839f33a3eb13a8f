"""What the database remembers of the keys that wrote it: the lookup-hash key's fingerprint (``key_checks``) and
the encryption-key canary (``key_canaries``). Never a key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, LargeBinary, String, Table, insert, inspect, select, update

from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import UTC, key_checks, metadata

# The encryption-key canary (server/key_checks.py): a random value sealed under the newest encryption key, and its
# lookup hash. Every node must open it at start, so one with a wrong or missing encryption key refuses to run.
key_canaries = Table(
    "key_canaries",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value_encrypted", LargeBinary, nullable=False),
    Column("value_hash", LargeBinary(32), nullable=False),
    Column("created_at", UTC, nullable=False),
    Column("sealed_at", UTC, nullable=False),
)

HASH_KEY = "hash_key"
ENCRYPTION = "encryption"


@dataclass(frozen=True, slots=True)
class Canary:
    """The sealed canary value and the lookup hash of its plaintext."""

    token: bytes
    value_hash: bytes


def has_key_tables(conn: Transaction) -> tuple[bool, bool]:
    """Whether the schema has ``key_checks`` and ``key_canaries`` (an older schema may lack either)."""
    names = set(inspect(conn).get_table_names())
    return "key_checks" in names, "key_canaries" in names


def hash_key_fingerprint(conn: Transaction) -> bytes | None:
    """The stored fingerprint of the lookup-hash key, if one was recorded."""
    stored = conn.execute(select(key_checks.c.fingerprint).where(key_checks.c.name == HASH_KEY)).scalar()
    return None if stored is None else bytes(stored)


def record_hash_key_fingerprint(conn: Transaction, fingerprint: bytes, now: datetime) -> None:
    """Remember the lookup-hash key's fingerprint (first start)."""
    conn.execute(insert(key_checks).values(name=HASH_KEY, fingerprint=fingerprint, created_at=now))


def canary(conn: Transaction) -> Canary | None:
    """The encryption-key canary, if one was sealed."""
    row = conn.execute(
        select(key_canaries.c.value_encrypted, key_canaries.c.value_hash).where(key_canaries.c.name == ENCRYPTION)
    ).first()
    return None if row is None else Canary(bytes(row.value_encrypted), bytes(row.value_hash))


def record_canary(conn: Transaction, sealed: Canary, now: datetime) -> None:
    """Store a new canary (a database that has none)."""
    conn.execute(
        insert(key_canaries).values(
            name=ENCRYPTION, value_encrypted=sealed.token, value_hash=sealed.value_hash, created_at=now, sealed_at=now
        )
    )


def reseal_canary(conn: Transaction, old: bytes, new: bytes, now: datetime) -> bool:
    """Swap the canary's token for ``new`` if it still is ``old``; whether it did."""
    result = conn.execute(
        update(key_canaries)
        .where(key_canaries.c.name == ENCRYPTION, key_canaries.c.value_encrypted == old)
        .values(value_encrypted=new, sealed_at=now)
    )
    return result.rowcount == 1
