"""Webhook storage: endpoints, sealed secrets, the outbox (leased claims like ``queue.py``) and the attempt log."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update

from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import (
    task_items,
    tasks,
    webhook_attempts,
    webhook_endpoints,
    webhook_messages,
    webhook_secrets,
)
from contactvault.server.domain.webhooks import MessageStatus

E = webhook_endpoints.c
M = webhook_messages.c


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """One endpoint as stored."""

    id: int
    account_id: int
    url: str
    description: str
    event_types: list[str]
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    payload: str = "thin"


@dataclass(frozen=True, slots=True)
class MessageRow:
    """An outbox message to insert: ``body`` is exactly what is signed and sent."""

    id: str
    endpoint_id: int
    account_id: int
    event_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A message leased to one sender until its lease runs out."""

    id: str
    endpoint_id: int
    account_id: int
    event_type: str
    body: bytes
    attempts: int
    url: str
    lease_owner: str
    trigger: str = "scheduled"
    payload: str = "thin"  # the endpoint's payload mode at claim time


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One delivery attempt, as logged."""

    message_id: str
    endpoint_id: int
    trigger: str
    status_code: int | None
    outcome: str
    error: str | None
    latency_ms: int
    response_head: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """What an ``unlock_task.completed`` payload says about a task."""

    id: int
    account_id: int
    status: str
    version: int
    item_count: int
    counts: dict[str, int]
    credits_charged: int
    credits_released: int
    completed_at: datetime | None


def _endpoint(r: Any) -> EndpointRow:
    return EndpointRow(
        int(r.id),
        int(r.account_id),
        r.url,
        r.description,
        json.loads(r.event_types),
        r.created_at,
        r.updated_at,
        r.disabled_at,
        r.disabled_reason,
        r.failing_since,
        r.payload,
    )


def insert_endpoint(conn: Transaction, row: EndpointRow) -> None:
    """Store a new endpoint."""
    conn.execute(
        insert(webhook_endpoints).values(
            id=row.id,
            account_id=row.account_id,
            url=row.url,
            description=row.description,
            event_types=json.dumps(row.event_types),
            created_at=row.created_at,
            updated_at=row.updated_at,
            payload=row.payload,
        )
    )


def endpoint(conn: Transaction, account_id: int, endpoint_id: int) -> EndpointRow | None:
    """One endpoint of an account (None: no such endpoint, or another account's)."""
    r = conn.execute(select(webhook_endpoints).where(E.id == endpoint_id, E.account_id == account_id)).first()
    return _endpoint(r) if r is not None else None


def endpoints(conn: Transaction, account_id: int | None) -> list[EndpointRow]:
    """Every endpoint of an account (None: of every account), oldest first."""
    query = select(webhook_endpoints).order_by(E.created_at, E.id)
    if account_id is not None:
        query = query.where(E.account_id == account_id)
    return [_endpoint(r) for r in conn.execute(query)]


def update_endpoint(conn: Transaction, endpoint_id: int, values: dict[str, Any]) -> None:
    """Change some columns of an endpoint (``event_types`` as a list)."""
    if "event_types" in values:
        values = {**values, "event_types": json.dumps(values["event_types"])}
    conn.execute(update(webhook_endpoints).where(E.id == endpoint_id).values(**values))


def delete_endpoint(conn: Transaction, endpoint_id: int) -> None:
    """Remove an endpoint with its secrets, messages and attempts."""
    conn.execute(delete(webhook_attempts).where(webhook_attempts.c.endpoint_id == endpoint_id))
    conn.execute(delete(webhook_messages).where(M.endpoint_id == endpoint_id))
    conn.execute(delete(webhook_secrets).where(webhook_secrets.c.endpoint_id == endpoint_id))
    conn.execute(delete(webhook_endpoints).where(E.id == endpoint_id))


def add_secret(conn: Transaction, endpoint_id: int, token: bytes, now: datetime) -> None:
    """Store a sealed secret as the endpoint's current one."""
    conn.execute(insert(webhook_secrets).values(endpoint_id=endpoint_id, value_encrypted=token, created_at=now))


def expire_secrets(conn: Transaction, endpoint_id: int, expires_at: datetime) -> None:
    """Give every still-valid secret of an endpoint an end (a rotation's overlap); earlier ends stay."""
    s = webhook_secrets.c
    conn.execute(
        update(webhook_secrets)
        .where(s.endpoint_id == endpoint_id, or_(s.expires_at.is_(None), s.expires_at > expires_at))
        .values(expires_at=expires_at)
    )


def active_secrets(conn: Transaction, endpoint_ids: Sequence[int], now: datetime) -> dict[int, list[bytes]]:
    """The sealed secrets that still sign, per endpoint, newest first."""
    s = webhook_secrets.c
    rows = conn.execute(
        select(s.endpoint_id, s.value_encrypted)
        .where(s.endpoint_id.in_(list(endpoint_ids)), or_(s.expires_at.is_(None), s.expires_at > now))
        .order_by(s.endpoint_id, s.id.desc())
    )
    found: dict[int, list[bytes]] = defaultdict(list)
    for r in rows:
        found[int(r.endpoint_id)].append(bytes(r.value_encrypted))
    return found


def insert_messages(conn: Transaction, rows: Sequence[MessageRow], now: datetime) -> None:
    """Put messages in the outbox, due at once (in the caller's transaction)."""
    if not rows:
        return
    conn.execute(
        insert(webhook_messages),
        [
            {
                "id": m.id,
                "endpoint_id": m.endpoint_id,
                "account_id": m.account_id,
                "event_type": m.event_type,
                "body": m.body,
                "status": MessageStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for m in rows
        ],
    )


def _due(now: datetime) -> Any:
    return or_(
        (M.status == MessageStatus.PENDING.value) & (M.next_attempt_at <= now),
        (M.status == MessageStatus.SENDING.value) & (M.lease_expires_at < now),
    )


def any_due(conn: Transaction, now: datetime) -> bool:
    """Whether some message is due (a read: an idle sender does not take the write lock to find nothing)."""
    return conn.execute(select(M.id).where(_due(now)).limit(1)).first() is not None


def claim_messages(
    conn: Transaction, lease_owner: str, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedMessage]:
    """Lease up to ``limit`` due messages: pending ones whose time has come, and sending ones whose lease ran out."""
    due = (
        select(M.id)
        .where(
            _due(now),
            M.endpoint_id.in_(select(E.id).where(E.disabled_at.is_(None))),  # a disabled endpoint's messages wait
        )
        .order_by(M.next_attempt_at, M.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = conn.execute(
        update(webhook_messages)
        .where(M.id.in_(due.scalar_subquery()))
        .values(
            status=MessageStatus.SENDING.value,
            lease_owner=lease_owner,
            lease_expires_at=now + lease,
            attempts=M.attempts + 1,
        )
        .returning(M.id, M.endpoint_id, M.account_id, M.event_type, M.body, M.attempts, M.trigger)
    ).all()
    targets = {
        int(r.id): (r.url, r.payload)
        for r in conn.execute(select(E.id, E.url, E.payload).where(E.id.in_([r.endpoint_id for r in claimed])))
    }
    return sorted(
        (
            ClaimedMessage(
                r.id,
                int(r.endpoint_id),
                int(r.account_id),
                r.event_type,
                bytes(r.body),
                r.attempts,
                targets[int(r.endpoint_id)][0],
                lease_owner,
                r.trigger,
                targets[int(r.endpoint_id)][1],
            )
            for r in claimed
        ),
        key=lambda m: m.id,
    )


def finish_attempt(
    conn: Transaction, message: ClaimedMessage, status: MessageStatus, next_attempt_at: datetime
) -> bool:
    """Settle a leased message (delivered, failed, or pending again at ``next_attempt_at``) if the lease is ours."""
    result = conn.execute(
        update(webhook_messages)
        .where(M.id == message.id, M.lease_owner == message.lease_owner, M.status == MessageStatus.SENDING.value)
        .values(status=status.value, next_attempt_at=next_attempt_at, lease_owner=None, lease_expires_at=None)
    )
    return result.rowcount == 1


def record_attempt(conn: Transaction, row: AttemptRow) -> None:
    """Append to the attempt log."""
    conn.execute(insert(webhook_attempts).values(**{k: getattr(row, k) for k in row.__dataclass_fields__}))


def attempts(conn: Transaction, endpoint_id: int, limit: int) -> list[AttemptRow]:
    """The latest attempts to one endpoint, newest first."""
    a = webhook_attempts.c
    rows = conn.execute(select(webhook_attempts).where(a.endpoint_id == endpoint_id).order_by(a.id.desc()).limit(limit))
    return [
        AttemptRow(
            r.message_id,
            int(r.endpoint_id),
            r.trigger,
            r.status_code,
            r.outcome,
            r.error,
            r.latency_ms,
            r.response_head,
            r.created_at,
        )
        for r in rows
    ]


def message_status(conn: Transaction, message_id: str) -> tuple[str, int] | None:
    """A message's status and attempt count (tests and the resend check)."""
    r = conn.execute(select(M.status, M.attempts).where(M.id == message_id)).first()
    return (r.status, int(r.attempts)) if r is not None else None


def messages_of(conn: Transaction, endpoint_id: int) -> list[tuple[str, str, str]]:
    """Every message of an endpoint: (id, event type, status), oldest first."""
    rows = conn.execute(
        select(M.id, M.event_type, M.status).where(M.endpoint_id == endpoint_id).order_by(M.created_at, M.id)
    )
    return [(r.id, r.event_type, r.status) for r in rows]


def requeue(
    conn: Transaction, endpoint_id: int, now: datetime, *, message_id: str | None, since: datetime | None
) -> int:
    """Make one message (resend) or every failed message since ``since`` (recover) due now; how many."""
    query = update(webhook_messages).where(M.endpoint_id == endpoint_id, M.status != MessageStatus.SENDING.value)
    if message_id is not None:
        query = query.where(M.id == message_id)
    else:
        query = query.where(M.status == MessageStatus.FAILED.value, M.created_at >= since)
    # A fresh retry schedule: the same webhook-id, attempts counted from one again.
    result = conn.execute(
        query.values(status=MessageStatus.PENDING.value, next_attempt_at=now, attempts=0, trigger="manual")
    )
    return int(result.rowcount)


def task_summaries(conn: Transaction, task_ids: Sequence[int]) -> list[TaskSummary]:
    """Status, version, item counts per status and credits of tasks (the completed event's payload)."""
    if not task_ids:
        return []
    t = tasks.c
    rows = conn.execute(
        select(
            t.id, t.account_id, t.status, t.version, t.item_count, t.credits_charged, t.credits_released, t.completed_at
        )
        .where(t.id.in_(list(task_ids)))
        .order_by(t.id)
    ).all()
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    i = task_items.c
    for r in conn.execute(
        select(i.task_id, i.status, func.count()).where(i.task_id.in_(list(task_ids))).group_by(i.task_id, i.status)
    ):
        counts[int(r[0])][r[1]] = int(r[2])
    return [
        TaskSummary(
            int(r.id),
            int(r.account_id),
            r.status,
            int(r.version),
            int(r.item_count),
            counts[int(r.id)],
            int(r.credits_charged),
            int(r.credits_released),
            r.completed_at,
        )
        for r in rows
    ]
