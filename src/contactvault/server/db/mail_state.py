"""Mail state shared by every worker: politeness per provider key (a locked row, leased session slots) and the TTL
caches of MX answers and catch-all verdicts (docs/verification.md, "Scale-out").

Atomicity: a reservation runs in one write transaction that first makes sure the provider's row exists
(``INSERT … ON CONFLICT DO NOTHING``) and then locks it (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already admits one writer at a time), so two workers never both see a free slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import mail_cache, mail_provider_slots, mail_providers


@dataclass(frozen=True, slots=True)
class ProviderState:
    """One provider key's shared state, read under its row lock; ``active`` counts unexpired slots."""

    key: str
    active: int
    last_start: datetime | None
    blocked_until: datetime | None
    window_start: datetime | None
    window_count: int


def _insert_ignoring_conflict(conn: Transaction, table: Table, values: dict[str, object]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


def lock_provider(conn: Transaction, key: str, now: datetime) -> ProviderState:
    """Lock ``key``'s row (creating it) until the transaction ends, drop its expired slots, and read its state."""
    _insert_ignoring_conflict(conn, mail_providers, {"key": key, "window_count": 0})
    row = conn.execute(select(mail_providers).where(mail_providers.c.key == key).with_for_update()).one()
    # A slot past its lease belonged to a worker that died mid-session (or overran its deadline): it frees itself.
    conn.execute(
        delete(mail_provider_slots).where(mail_provider_slots.c.key == key, mail_provider_slots.c.expires_at <= now)
    )
    active = conn.execute(
        select(func.count()).select_from(mail_provider_slots).where(mail_provider_slots.c.key == key)
    ).scalar_one()
    return ProviderState(key, int(active), row.last_start, row.blocked_until, row.window_start, int(row.window_count))


def start_session(
    conn: Transaction, key: str, slot_id: int, start: datetime, lease_until: datetime, window: tuple[datetime, int]
) -> None:
    """Record a session start at ``start`` holding slot ``slot_id`` until ``lease_until`` at the latest."""
    window_start, window_count = window
    conn.execute(
        update(mail_providers)
        .where(mail_providers.c.key == key)
        .values(last_start=start, window_start=window_start, window_count=window_count)
    )
    conn.execute(insert(mail_provider_slots).values(id=slot_id, key=key, expires_at=lease_until))


def note_start(conn: Transaction, key: str, at: datetime) -> None:
    """A session of ``key`` really started at ``at``: the next gap counts from it if it is later than reserved."""
    conn.execute(
        update(mail_providers)
        .where(mail_providers.c.key == key, mail_providers.c.last_start < at)
        .values(last_start=at)
    )


def end_session(conn: Transaction, slot_id: int) -> None:
    """Give a slot back."""
    conn.execute(delete(mail_provider_slots).where(mail_provider_slots.c.id == slot_id))


def block_provider(conn: Transaction, key: str, until: datetime) -> None:
    """No new session for ``key`` before ``until`` (a later block already recorded stays)."""
    _insert_ignoring_conflict(conn, mail_providers, {"key": key, "window_count": 0})
    row = conn.execute(select(mail_providers).where(mail_providers.c.key == key).with_for_update()).one()
    if row.blocked_until is None or row.blocked_until < until:
        conn.execute(update(mail_providers).where(mail_providers.c.key == key).values(blocked_until=until))


def cached(conn: Transaction, kind: str, key: str, now: datetime) -> str | None:
    """The cached value of ``kind``/``key`` unless it has expired."""
    value = conn.execute(
        select(mail_cache.c.value).where(
            mail_cache.c.kind == kind, mail_cache.c.key == key, mail_cache.c.expires_at > now
        )
    ).scalar_one_or_none()
    return None if value is None else str(value)


def store(conn: Transaction, kind: str, key: str, value: str, expires_at: datetime) -> None:
    """Store (or replace) ``kind``/``key`` until ``expires_at``."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(mail_cache).values(kind=kind, key=key, value=value, expires_at=expires_at)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[mail_cache.c.kind, mail_cache.c.key],
            set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
        )
    )


def purge_expired(conn: Transaction, now: datetime) -> int:
    """Delete expired cache rows and expired session slots; returns how many."""
    purged = conn.execute(delete(mail_cache).where(mail_cache.c.expires_at <= now)).rowcount
    purged += conn.execute(delete(mail_provider_slots).where(mail_provider_slots.c.expires_at <= now)).rowcount
    return int(purged)
