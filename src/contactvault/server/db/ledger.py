"""Queries on credit buckets and ledger postings (no commits here: the caller's transaction decides)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, bindparam, func, insert, select

from contactvault.server.db.bulk import driver_time, executemany
from contactvault.server.db.tables import accounts, credit_buckets, ledger_entries, task_holds, task_items, tasks
from contactvault.server.domain.ledger import Bucket, BucketKind
from contactvault.server.domain.tasks import UNFINISHED_ITEM_STATUSES


class Posting(NamedTuple):
    """One ledger row to write."""

    account_id: int
    bucket_id: int
    kind: str
    available_delta: int
    reserved_delta: int
    cause_type: str
    cause_id: int
    task_id: int | None = None


def buckets_of(conn: Connection, account_id: int, *, lock: bool = False) -> list[Bucket]:
    """Every bucket of an account, in id order (locked, in that order, on PostgreSQL when ``lock``)."""
    query = (
        select(credit_buckets.c.id, credit_buckets.c.kind, credit_buckets.c.balance, credit_buckets.c.expires_at)
        .where(credit_buckets.c.account_id == account_id)
        .order_by(credit_buckets.c.id)
    )
    if lock:
        query = query.with_for_update(key_share=True)
    return [Bucket(r.id, BucketKind(r.kind), r.balance, r.expires_at) for r in conn.execute(query)]


def lock_buckets(conn: Connection, bucket_ids: Iterable[int]) -> None:
    """Lock these buckets in id order before any posting on them (PostgreSQL; SQLite has one writer anyway).

    The lock order rule: a transaction that changes buckets locks all of them first, in id order, with ``FOR NO KEY
    UPDATE``. Otherwise a posting insert's foreign-key ``KEY SHARE`` lock taken on one bucket, then a wait for
    another, closes a cycle with a transaction that locked them in the other order.
    """
    ids = sorted(set(bucket_ids))
    if not ids or conn.dialect.name != "postgresql":
        return
    conn.execute(
        select(credit_buckets.c.id)
        .where(credit_buckets.c.id.in_(ids))
        .order_by(credit_buckets.c.id)
        .with_for_update(key_share=True)
    ).all()


@dataclass(frozen=True, slots=True)
class ExpiredBucket:
    """An expired bucket with spendable credits left, and its newest posting (what its expiry follows)."""

    id: int
    account_id: int
    balance: int
    newest_posting_id: int


def expired_with_balance(conn: Connection, now: datetime, limit: int) -> list[ExpiredBucket]:
    """Up to ``limit`` buckets expired at ``now`` that still hold spendable credits, in id order.

    On PostgreSQL they are locked (``FOR NO KEY UPDATE``, in id order as every bucket lock): a concurrent expiry
    waits here, and PostgreSQL re-checks ``balance > 0`` on the row it then sees, so it skips a bucket the first
    one emptied. On SQLite the write transaction already excludes every other writer.
    """
    query = (
        select(credit_buckets.c.id, credit_buckets.c.account_id, credit_buckets.c.balance)
        .where(credit_buckets.c.expires_at <= now, credit_buckets.c.balance > 0)
        .order_by(credit_buckets.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)
    rows = conn.execute(query).all()
    if not rows:
        return []
    newest = dict(
        conn.execute(
            select(ledger_entries.c.bucket_id, func.max(ledger_entries.c.id))
            .where(ledger_entries.c.bucket_id.in_([r.id for r in rows]))
            .group_by(ledger_entries.c.bucket_id)
        ).all()
    )
    return [ExpiredBucket(int(r.id), int(r.account_id), int(r.balance), int(newest[r.id])) for r in rows]


# Built once: the balance route runs it on every call, and building it cost about as much as running it.
_BALANCE_ROWS = select(credit_buckets).where(credit_buckets.c.account_id == bindparam("account_id"))


def balance_rows(conn: Connection, account_id: int) -> list[dict[str, object]]:
    """Raw bucket rows for the balance view."""
    return [dict(r._mapping) for r in conn.execute(_BALANCE_ROWS, {"account_id": account_id})]


def add_bucket(
    conn: Connection,
    account_id: int,
    kind: BucketKind,
    amount: int,
    expires_at: datetime | None,
    now: datetime,
) -> int:
    """Create a bucket holding ``amount`` and return its id (the grant posting is separate)."""
    result = conn.execute(
        insert(credit_buckets)
        .values(
            account_id=account_id,
            kind=kind.value,
            amount=amount,
            balance=amount,
            reserved=0,
            expires_at=expires_at,
            created_at=now,
        )
        .returning(credit_buckets.c.id)
    )
    return int(result.scalar_one())


def post(conn: Connection, postings: Sequence[Posting], now: datetime, *, apply: bool = True) -> None:
    """Write postings and (unless the bucket row was already set) apply their deltas to the buckets."""
    if not postings:
        return
    ts = driver_time(conn, now)
    executemany(
        conn,
        "INSERT INTO ledger_entries (account_id, bucket_id, kind, available_delta, reserved_delta, cause_type,"
        " cause_id, task_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(p.account_id, p.bucket_id, str(p.kind), *p[3:], ts) for p in postings],
    )
    if not apply:
        return
    deltas: dict[int, list[int]] = {}
    for p in postings:
        acc = deltas.setdefault(p.bucket_id, [0, 0])
        acc[0] += p.available_delta
        acc[1] += p.reserved_delta
    executemany(
        conn,
        "UPDATE credit_buckets SET balance = balance + ?, reserved = reserved + ? WHERE id = ?",
        [(a, r, bid) for bid, (a, r) in sorted(deltas.items()) if a or r],
    )


def posting_sums(conn: Connection, account_id: int | None = None) -> dict[int, tuple[int, int]]:
    """Per bucket, the sums of available and reserved deltas over all postings (for reconciliation)."""
    query = select(
        ledger_entries.c.bucket_id,
        func.sum(ledger_entries.c.available_delta),
        func.sum(ledger_entries.c.reserved_delta),
    ).group_by(ledger_entries.c.bucket_id)
    if account_id is not None:
        query = query.where(ledger_entries.c.account_id == account_id)
    return {int(b): (int(a), int(r)) for b, a, r in conn.execute(query)}


def cached_balances(conn: Connection) -> list[tuple[int, int, int]]:
    """Every bucket's (id, cached balance, cached reserved), in id order."""
    query = select(credit_buckets.c.id, credit_buckets.c.balance, credit_buckets.c.reserved).order_by(
        credit_buckets.c.id
    )
    return [(int(i), int(b), int(r)) for i, b, r in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class TaskCredits:
    """A task's own credit columns, as the task row caches them."""

    id: int
    status: str
    credits_held: int
    credits_charged: int
    credits_released: int
    unfinished: int


@dataclass(frozen=True, slots=True)
class TaskSums:
    """Per task id, what its items, holds and postings add up to (for reconciliation)."""

    item_charges: dict[int, int]
    unfinished_items: dict[int, int]
    holds_left: dict[int, int]
    reserved_net: dict[int, int]


def _by_task(conn: Connection, query: Select[Any]) -> dict[int, int]:
    return {int(k): int(v) for k, v in conn.execute(query)}


def task_sums(conn: Connection) -> TaskSums:
    """Sum every task's items, holds and reserved postings."""
    return TaskSums(
        item_charges=_by_task(
            conn,
            select(task_items.c.task_id, func.sum(task_items.c.credits_charged)).group_by(task_items.c.task_id),
        ),
        unfinished_items=_by_task(
            conn,
            select(task_items.c.task_id, func.count())
            .where(task_items.c.status.in_([s.value for s in UNFINISHED_ITEM_STATUSES]))
            .group_by(task_items.c.task_id),
        ),
        holds_left=_by_task(
            conn,
            select(task_holds.c.task_id, func.sum(task_holds.c.amount - task_holds.c.settled)).group_by(
                task_holds.c.task_id
            ),
        ),
        reserved_net=_by_task(
            conn,
            select(ledger_entries.c.task_id, func.sum(ledger_entries.c.reserved_delta))
            .where(ledger_entries.c.task_id.is_not(None))
            .group_by(ledger_entries.c.task_id),
        ),
    )


def task_credits(conn: Connection) -> list[TaskCredits]:
    """Every task's credit columns."""
    query = select(
        tasks.c.id,
        tasks.c.status,
        tasks.c.credits_held,
        tasks.c.credits_charged,
        tasks.c.credits_released,
        tasks.c.unfinished,
    )
    return [TaskCredits(int(t[0]), str(t[1]), int(t[2]), int(t[3]), int(t[4]), int(t[5])) for t in conn.execute(query)]


def account_exists(conn: Connection, account_id: int) -> bool:
    """Whether the account exists (revoked keys or not)."""
    return conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is not None
