"""Webhook endpoints per account, their secrets, and putting events in the outbox (docs/webhooks.md).

A secret (``whsec_…``) is returned once, at creation or rotation, and stored sealed with the runtime's cipher.
A rotation keeps the previous secret signing for an overlap window, so every message carries one signature per
active secret. ``enqueue`` writes one outbox row per interested endpoint in the caller's transaction: the event and
the change that caused it commit together, or neither does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contactvault.server.db import audit
from contactvault.server.db import webhooks as stored
from contactvault.server.db.engine import Transaction
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InvalidRequest, NotFound
from contactvault.server.domain.webhooks import (
    MAX_DESCRIPTION_LENGTH,
    SECRET_OVERLAP,
    EventType,
    PayloadMode,
    check_event_types,
    check_payload,
    check_url,
    encode,
    wants,
)
from contactvault.server.runtime import Runtime
from contactvault.webhooks import generate_secret

MAX_ATTEMPTS_LISTED = 100


@dataclass(frozen=True, slots=True)
class EndpointView:
    """An endpoint as shown to its account (never with its secret)."""

    id: int
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    payload: str = PayloadMode.THIN.value


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    """A new endpoint and its secret, shown this once."""

    endpoint: EndpointView
    secret: str


def _view(row: stored.EndpointRow) -> EndpointView:
    return EndpointView(
        row.id,
        row.url,
        row.description,
        row.event_types,
        row.disabled_at is None,
        row.disabled_reason,
        row.created_at,
        row.updated_at,
        row.payload,
    )


def _description(description: str | None) -> str:
    text = (description or "").strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise InvalidRequest(
            f"description must be at most {MAX_DESCRIPTION_LENGTH} characters.", {"field": "description"}
        )
    return text


def _found(conn: Transaction, account_id: int, endpoint_id: int) -> stored.EndpointRow:
    row = stored.endpoint(conn, account_id, endpoint_id)
    if row is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found.")
    return row


def create_endpoint(
    rt: Runtime,
    account_id: int,
    url: str,
    description: str | None = None,
    event_types: Sequence[str] = (),
    payload: str = PayloadMode.THIN.value,
) -> CreatedEndpoint:
    """Register an endpoint; every input is checked before anything is stored."""
    url = check_url(url, allow_private=rt.settings.webhooks_allow_private)
    text = _description(description)
    types = check_event_types(event_types)
    mode = check_payload(payload).value
    secret = generate_secret()
    now = rt.clock.now()
    row = stored.EndpointRow(rt.ids.new_id(), account_id, url, text, types, now, now, None, None, None, mode)
    with rt.db.write() as conn:
        stored.insert_endpoint(conn, row)
        stored.add_secret(conn, row.id, rt.cipher.seal(secret), now)
        detail = {"eventTypes": types, "payload": mode}
        audit.record(conn, [_audit(AuditAction.WEBHOOK_CREATE, row, detail)], now)
    return CreatedEndpoint(_view(row), secret)


def _audit(action: AuditAction, row: stored.EndpointRow, detail: dict[str, Any] | None = None) -> audit.AuditEntry:
    # The URL may carry a receiver's token in its path: the audit row names the endpoint by id only.
    return audit.AuditEntry(action, row.account_id, "webhook", str(row.id), None, detail or {})


def list_endpoints(rt: Runtime, account_id: int) -> list[EndpointView]:
    """The account's endpoints, oldest first."""
    with rt.db.read() as conn:
        return [_view(r) for r in stored.endpoints(conn, account_id)]


def get_endpoint(rt: Runtime, account_id: int, endpoint_id: int) -> EndpointView:
    """One endpoint of the account."""
    with rt.db.read() as conn:
        return _view(_found(conn, account_id, endpoint_id))


def update_endpoint(
    rt: Runtime,
    account_id: int,
    endpoint_id: int,
    *,
    url: str | None = None,
    description: str | None = None,
    event_types: Sequence[str] | None = None,
    enabled: bool | None = None,
    payload: str | None = None,
) -> EndpointView:
    """Change what is given (None: unchanged); enabling again clears the failure record."""
    values: dict[str, Any] = {}
    if url is not None:
        values["url"] = check_url(url, allow_private=rt.settings.webhooks_allow_private)
    if description is not None:
        values["description"] = _description(description)
    if event_types is not None:
        values["event_types"] = check_event_types(event_types)
    if payload is not None:
        values["payload"] = check_payload(payload).value
    now = rt.clock.now()
    if enabled is True:
        values.update(disabled_at=None, disabled_reason=None, failing_since=None)
    elif enabled is False:
        values.update(disabled_at=now, disabled_reason="by_account")
    with rt.db.write() as conn:
        row = _found(conn, account_id, endpoint_id)
        if values:
            values["updated_at"] = now
            stored.update_endpoint(conn, endpoint_id, values)
            changed = sorted(k for k in values if k != "updated_at")
            audit.record(conn, [_audit(AuditAction.WEBHOOK_UPDATE, row, {"changed": changed})], now)
        return _view(_found(conn, account_id, endpoint_id))


def delete_endpoint(rt: Runtime, account_id: int, endpoint_id: int) -> None:
    """Remove an endpoint, its secrets, its undelivered messages and its attempt log."""
    now = rt.clock.now()
    with rt.db.write() as conn:
        row = _found(conn, account_id, endpoint_id)
        stored.delete_endpoint(conn, endpoint_id)
        audit.record(conn, [_audit(AuditAction.WEBHOOK_DELETE, row)], now)


def rotate_secret(
    rt: Runtime, account_id: int, endpoint_id: int, overlap: timedelta = SECRET_OVERLAP
) -> tuple[str, datetime]:
    """A new secret, returned once; the previous ones keep signing until the returned moment."""
    if overlap < timedelta(0) or overlap > timedelta(days=7):
        raise InvalidRequest("overlap must be between 0 and 7 days.", {"field": "overlap"})
    secret = generate_secret()
    now = rt.clock.now()
    with rt.db.write() as conn:
        row = _found(conn, account_id, endpoint_id)
        stored.expire_secrets(conn, endpoint_id, now + overlap)
        stored.add_secret(conn, endpoint_id, rt.cipher.seal(secret), now)
        detail = {"overlapSeconds": int(overlap.total_seconds())}
        audit.record(conn, [_audit(AuditAction.WEBHOOK_ROTATE, row, detail)], now)
    return secret, now + overlap


def signing_secrets(rt: Runtime, conn: Transaction, endpoint_ids: Sequence[int]) -> dict[int, list[str]]:
    """The ``whsec_…`` secrets that sign for each endpoint now, newest first."""
    sealed = stored.active_secrets(conn, endpoint_ids, rt.clock.now())
    return {endpoint_id: [rt.cipher.open(token) for token in tokens] for endpoint_id, tokens in sealed.items()}


def new_message_id(rt: Runtime) -> str:
    """A fresh ``webhook-id``: unguessable, without '.' (the signed fields' separator)."""
    return f"msg_{rt.ids.new_id():016x}"


def enqueue(
    rt: Runtime, conn: Transaction, account_id: int, event: EventType, data: dict[str, Any], at: datetime
) -> list[str]:
    """Put one message per enabled, interested endpoint of the account in the outbox (caller's transaction)."""
    targets = [e for e in stored.endpoints(conn, account_id) if e.disabled_at is None and wants(e.event_types, event)]
    body = encode(event, at, data)
    rows = [stored.MessageRow(new_message_id(rt), e.id, account_id, event.value, body) for e in targets]
    stored.insert_messages(conn, rows, at)
    return [r.id for r in rows]


def send_test(rt: Runtime, account_id: int, endpoint_id: int) -> str:
    """Queue a ``webhook.test`` message to one endpoint whatever its filter (a disabled one gets it when enabled)."""
    now = rt.clock.now()
    with rt.db.write() as conn:
        row = _found(conn, account_id, endpoint_id)
        message_id = new_message_id(rt)
        body = encode(EventType.WEBHOOK_TEST, now, {"endpointId": str(row.id)})
        stored.insert_messages(
            conn, [stored.MessageRow(message_id, row.id, account_id, EventType.WEBHOOK_TEST.value, body)], now
        )
    return message_id


def list_attempts(rt: Runtime, account_id: int, endpoint_id: int, limit: int = 50) -> list[stored.AttemptRow]:
    """The latest delivery attempts to an endpoint, newest first."""
    if not 1 <= limit <= MAX_ATTEMPTS_LISTED:
        raise InvalidRequest(f"limit must be between 1 and {MAX_ATTEMPTS_LISTED}.", {"field": "limit"})
    with rt.db.read() as conn:
        _found(conn, account_id, endpoint_id)
        return stored.attempts(conn, endpoint_id, limit)


def resend(rt: Runtime, account_id: int, endpoint_id: int, message_id: str) -> None:
    """Send one message again, with the same ``webhook-id`` (a fresh timestamp and signature)."""
    with rt.db.write() as conn:
        _found(conn, account_id, endpoint_id)
        if stored.requeue(conn, endpoint_id, rt.clock.now(), message_id=message_id, since=None) == 0:
            raise NotFound(f"Message {message_id} not found (or being sent right now).")


def recover(rt: Runtime, account_id: int, endpoint_id: int, since: datetime) -> int:
    """Send again every message to the endpoint that failed for good since ``since``; how many."""
    if since.tzinfo is None:
        raise InvalidRequest("since needs a timezone, e.g. 2026-01-01T00:00:00Z.", {"field": "since"})
    with rt.db.write() as conn:
        _found(conn, account_id, endpoint_id)
        return stored.requeue(conn, endpoint_id, rt.clock.now(), message_id=None, since=since)


def announce_completed(rt: Runtime, conn: Transaction, task_ids: Sequence[int], at: datetime) -> None:
    """Queue ``unlock_task.completed`` for tasks that just finished (in the transaction that finished them).

    The thin payload: ids, status, counts and credits, never a contact value. ``sequence`` is the task's version,
    which grows with every change, so a consumer can drop anything older than what it has seen.
    """
    for task in stored.task_summaries(conn, task_ids):
        data = {
            "taskId": str(task.id),
            "status": task.status,
            "sequence": task.version,
            "itemCount": task.item_count,
            "counts": dict(sorted(task.counts.items())),
            "credits": {"charged": task.credits_charged, "released": task.credits_released},
            "completedAt": (task.completed_at or at).isoformat().replace("+00:00", "Z"),
        }
        enqueue(rt, conn, task.account_id, EventType.UNLOCK_TASK_COMPLETED, data, at)


def announce_erased(rt: Runtime, conn: Transaction, account_ids: Sequence[int], person_id: int, at: datetime) -> None:
    """Queue ``contact.erased`` for each account whose copy of a person's data was just erased."""
    for account_id in account_ids:
        data = {"personnelId": str(person_id), "reason": "erased", "channel": None}
        enqueue(rt, conn, account_id, EventType.CONTACT_ERASED, data, at)
