"""Writing audit rows, always inside the transaction that made the change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from contactvault.server.db.bulk import driver_time, executemany
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
