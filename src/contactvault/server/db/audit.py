"""Writing audit rows, always inside the transaction that made the change."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from contactvault.server.db.bulk import driver_time, executemany
from contactvault.server.db.tables import audit_log, tasks
from contactvault.server.domain.audit import AuditAction


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row; ``detail`` must never hold a secret or a personal value."""

    action: AuditAction
    account_id: int | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    credits: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def record(conn: Connection, entries: Sequence[AuditEntry], now: datetime, trace_id: str | None = None) -> None:
    """Insert audit rows."""
    if not entries:
        return
    ts = driver_time(conn, now)
    executemany(
        conn,
        "INSERT INTO audit_log (account_id, action, subject_type, subject_id, credits, detail, trace_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                e.account_id,
                e.action.value,
                e.subject_type,
                e.subject_id,
                e.credits,
                json.dumps(e.detail, sort_keys=True) if e.detail else None,
                trace_id,
                ts,
            )
            for e in entries
        ],
    )


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One stored audit row (``detail`` still JSON text)."""

    id: int
    created_at: datetime
    account_id: int | None
    action: str
    subject_type: str | None
    subject_id: str | None
    credits: int | None
    detail: str | None
    trace_id: str | None


def newest(conn: Connection, *, account_id: int | None, since: datetime | None, limit: int) -> list[AuditRow]:
    """Up to ``limit`` audit rows, newest first, optionally one account's and from ``since`` on."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(audit_log.c.account_id == account_id)
    if since is not None:
        query = query.where(audit_log.c.created_at >= since)
    return [
        AuditRow(
            r.id, r.created_at, r.account_id, r.action, r.subject_type, r.subject_id, r.credits, r.detail, r.trace_id
        )
        for r in conn.execute(query)
    ]


def task_traces(conn: Connection, task_ids: Collection[int]) -> dict[int, str | None]:
    """The trace id each of these tasks was submitted under."""
    if not task_ids:
        return {}
    query = select(tasks.c.id, tasks.c.trace_id).where(tasks.c.id.in_(sorted(task_ids)))
    return {int(i): t for i, t in conn.execute(query)}


def latest_detail(conn: Connection, action: AuditAction, subject_id: str) -> str | None:
    """The ``detail`` JSON of the newest row of ``action`` on ``subject_id``, or None."""
    query = (
        select(audit_log.c.detail)
        .where(audit_log.c.action == action.value, audit_log.c.subject_id == subject_id)
        .order_by(audit_log.c.id.desc())
        .limit(1)
    )
    detail = conn.execute(query).scalar()
    return None if detail is None else str(detail)


def purge_before(conn: Connection, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the oldest audit rows written before ``cutoff``; returns how many."""
    oldest = select(audit_log.c.id).where(audit_log.c.created_at < cutoff).order_by(audit_log.c.id).limit(limit)
    return int(conn.execute(delete(audit_log).where(audit_log.c.id.in_(oldest.scalar_subquery()))).rowcount)
