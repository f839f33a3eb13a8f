"""The outbox's side of delivery: claim due messages under a lease, then record each attempt's outcome.

At least once: a message is settled only by the sender that still holds its lease, after the HTTP answer. A sender
that dies mid-attempt leaves the message leased; when the lease runs out another claim takes it, with the same
``webhook-id`` (the receiver's dedupe key). The HTTP itself happens in ``worker/webhook_sender.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from contactvault.server.db import audit
from contactvault.server.db import webhooks as stored
from contactvault.server.db.engine import Transaction
from contactvault.server.db.webhooks import ClaimedMessage
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.webhooks import (
    ABORT_ERROR,
    RESPONSE_HEAD_BYTES,
    AttemptVerdict,
    MessageStatus,
    judge_attempt,
    should_auto_disable,
)
from contactvault.server.runtime import Runtime
from contactvault.server.services.webhook_payloads import body_for_attempt
from contactvault.server.services.webhooks import signing_secrets

DEFAULT_LEASE = timedelta(seconds=60)  # well above the 15 s request timeout


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed message, the secrets that sign it now (newest first) and this attempt's body (signed and sent)."""

    message: ClaimedMessage
    secrets: list[str]
    body: bytes


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one HTTP attempt got: a status (None: no answer, see ``error``), the latency and the answer's start."""

    status_code: int | None
    latency_ms: int
    response_head: bytes = b""
    retry_after: str | None = None
    error: str | None = None
    abort: bool = False  # the answer carried ``webhook-delivery: abort``


def claim_due(rt: Runtime, owner: str, limit: int, lease: timedelta = DEFAULT_LEASE) -> list[Outgoing]:
    """Lease up to ``limit`` due messages, each with its signing secrets."""
    now = rt.clock.now()
    with rt.db.read() as conn:
        if not stored.any_due(conn, now):
            return []
    with rt.db.write() as conn:
        claimed = stored.claim_messages(conn, owner, now, lease, limit)
        secrets = signing_secrets(rt, conn, sorted({m.endpoint_id for m in claimed}))
    # A full payload is rendered now, from the database as it is at this attempt (docs/webhooks.md).
    return [Outgoing(m, secrets.get(m.endpoint_id, []), body_for_attempt(rt, m)) for m in claimed]


def record_attempt(rt: Runtime, message: ClaimedMessage, result: AttemptResult, rng: random.Random) -> bool:
    """Log the attempt and settle the message (delivered, retried later, failed); False if the lease was lost."""
    now = rt.clock.now()
    verdict = judge_attempt(message.attempts, result.status_code, result.retry_after, rng, abort=result.abort)
    if verdict.delivered:
        status, due = MessageStatus.DELIVERED, now
    elif verdict.retry_in is not None:
        status, due = MessageStatus.PENDING, now + verdict.retry_in
    else:
        status, due = MessageStatus.FAILED, now
    head = result.response_head[:RESPONSE_HEAD_BYTES].decode("utf-8", errors="replace")
    with rt.db.write() as conn:
        if not stored.finish_attempt(conn, message, status, due):
            return False  # another sender owns it now; its attempt is the one that counts
        stored.record_attempt(
            conn,
            stored.AttemptRow(
                message.id,
                message.endpoint_id,
                message.trigger,
                result.status_code,
                "success" if verdict.delivered else "failed",
                ABORT_ERROR if verdict.aborted else (result.error or "")[:200] or None,
                result.latency_ms,
                head or None,
                now,
            ),
        )
        _track_endpoint_health(conn, message, verdict, result.status_code, now)
    return True


def _track_endpoint_health(
    conn: Transaction, message: ClaimedMessage, verdict: AttemptVerdict, status_code: int | None, now: datetime
) -> None:
    """Clear or start the endpoint's run of failures; disable it on a 410 or after days of failures."""
    endpoint = stored.endpoint(conn, message.account_id, message.endpoint_id)
    if endpoint is None:
        return
    if verdict.aborted:
        return  # the receiver answered on purpose: not a sign the endpoint is broken
    if verdict.delivered:
        if endpoint.failing_since is not None:
            stored.update_endpoint(conn, endpoint.id, {"failing_since": None})
        return
    failing_since = endpoint.failing_since or now
    if endpoint.failing_since is None:
        stored.update_endpoint(conn, endpoint.id, {"failing_since": now})
    reason = "gone" if verdict.disable_endpoint else "failing" if should_auto_disable(failing_since, now) else None
    if reason is None or endpoint.disabled_at is not None:
        return
    stored.update_endpoint(conn, endpoint.id, {"disabled_at": now, "disabled_reason": reason, "updated_at": now})
    detail = {"reason": reason, "statusCode": status_code, "failingSince": failing_since.isoformat()}
    subject = str(endpoint.id)
    audit.record(
        conn,
        [audit.AuditEntry(AuditAction.WEBHOOK_DISABLE, endpoint.account_id, "webhook", subject, None, detail)],
        now,
    )
