"""Reading an account's ledger postings, itemised and paged (the writes and reconciliation sums are in ``ledger``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, select

from contactvault.server.db.directory import PageQuery, PageRequest, paged
from contactvault.server.db.tables import credit_buckets, ledger_entries, tasks


@dataclass(frozen=True, slots=True)
class PostingRow:
    """One posting with its bucket's kind and, for a task's postings, the task's call source."""

    entry_id: int
    kind: str
    available_delta: int
    reserved_delta: int
    bucket_id: int
    bucket_kind: str
    cause_type: str
    cause_id: int
    task_id: int | None
    call_source: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PostingFilter:
    """Which postings of one account: all, or those of one task, and/or of some kinds, posted in ``[since, until)``,
    up to the posting ``up_to_id`` (a page snapshot: postings made after the first page never shift later ones)."""

    account_id: int
    task_id: int | None = None
    kinds: Sequence[str] = ()
    since: datetime | None = None
    until: datetime | None = None
    up_to_id: int | None = None


def _conditions(which: PostingFilter) -> list[ColumnElement[bool]]:
    le = ledger_entries
    conds: list[ColumnElement[bool]] = [le.c.account_id == which.account_id]
    if which.task_id is not None:
        conds.append(le.c.task_id == which.task_id)
    if which.kinds:
        conds.append(le.c.kind.in_(sorted(set(which.kinds))))
    if which.since is not None:
        conds.append(le.c.created_at >= which.since)
    if which.until is not None:
        conds.append(le.c.created_at < which.until)
    if which.up_to_id is not None:
        conds.append(le.c.id <= which.up_to_id)
    return conds


def last_posting_id(conn: Connection, account_id: int) -> int:
    """The id of the account's newest posting (0 when it has none): the snapshot bound of a first page."""
    le = ledger_entries
    return int(conn.execute(select(func.coalesce(func.max(le.c.id), 0)).where(le.c.account_id == account_id)).one()[0])


def postings(conn: Connection, which: PostingFilter, page: PageRequest) -> tuple[list[PostingRow], int]:
    """One page of an account's postings, newest first (by id: postings of one transaction share a time), and the
    number of matches. Another account's postings never match: the account is always part of the filter."""
    le, b, t = ledger_entries, credit_buckets, tasks
    conds = _conditions(which)
    query: Select[Any] = (
        select(
            le.c.id,
            le.c.kind,
            le.c.available_delta,
            le.c.reserved_delta,
            le.c.bucket_id,
            b.c.kind.label("bucket_kind"),
            le.c.cause_type,
            le.c.cause_id,
            le.c.task_id,
            t.c.call_source,
            le.c.created_at,
        )
        .select_from(le.join(b, b.c.id == le.c.bucket_id).outerjoin(t, t.c.id == le.c.task_id))
        .where(*conds)
        .order_by(le.c.id.desc())
    )
    count = select(func.count()).select_from(le).where(*conds)
    rows, total = paged(conn, PageQuery(query, count), page)
    return [
        PostingRow(
            int(r.id),
            str(r.kind),
            int(r.available_delta),
            int(r.reserved_delta),
            int(r.bucket_id),
            str(r.bucket_kind),
            str(r.cause_type),
            int(r.cause_id),
            int(r.task_id) if r.task_id is not None else None,
            r.call_source,
            r.created_at,
        )
        for r in rows
    ], total


def posting_totals(conn: Connection, which: PostingFilter) -> tuple[int, int]:
    """The sums of the available and reserved deltas of the matching postings."""
    le = ledger_entries
    row = conn.execute(
        select(func.coalesce(func.sum(le.c.available_delta), 0), func.coalesce(func.sum(le.c.reserved_delta), 0)).where(
            *_conditions(which)
        )
    ).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True, slots=True)
class SpendRow:
    """A task posting (hold, capture or release) with its task's call source, for usage reports."""

    kind: str
    reserved_delta: int
    task_id: int
    call_source: str
    created_at: datetime


def task_postings_since(conn: Connection, account_id: int, since: datetime) -> list[SpendRow]:
    """The account's hold, capture and release postings at or after ``since``, oldest first."""
    le, t = ledger_entries, tasks
    rows = conn.execute(
        select(le.c.kind, le.c.reserved_delta, le.c.task_id, t.c.call_source, le.c.created_at)
        .select_from(le.join(t, t.c.id == le.c.task_id))
        .where(le.c.account_id == account_id, le.c.created_at >= since, le.c.kind.in_(("hold", "capture", "release")))
        .order_by(le.c.id)
    )
    return [
        SpendRow(str(r.kind), int(r.reserved_delta), int(r.task_id), str(r.call_source), r.created_at) for r in rows
    ]
