"""Writing audit rows, always inside the transaction that made the change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from contactvault.server.db.tables import audit_log
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


def record(
    conn: Connection, entries: Sequence[AuditEntry], now: datetime, trace_id: str | None = None
) -> None:
    """Insert audit rows."""
    if not entries:
        return
    conn.execute(
        insert(audit_log),
        [
            {
                "account_id": e.account_id,
                "action": e.action.value,
                "subject_type": e.subject_type,
                "subject_id": e.subject_id,
                "credits": e.credits,
                "detail": json.dumps(e.detail, sort_keys=True) if e.detail else None,
                "trace_id": trace_id,
                "created_at": now,
            }
            for e in entries
        ],
    )
