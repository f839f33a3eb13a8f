"""Retention: revealed values older than ``CONTACTVAULT_UNLOCK_RETENTION_DAYS`` are purged (0 keeps them forever).

A purge removes the value and keeps the unlock row, like an erasure: the account paid once for that person and
is never charged for them again; the API then shows the person with ``email``/``phone`` null. Callers that need
the value keep their own copy, which is the point of a retention limit. Runs in short batches (one transaction
each), so it can run while the service does: the housekeeping runs it hourly (``contactvault admin
purge-retention`` runs it at once). Audit rows have their own limit, ``CONTACTVAULT_AUDIT_RETENTION_DAYS``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from contactvault.server.db import audit
from contactvault.server.db.unlocks import bump_tasks_showing, remove_values, values_created_before
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.runtime import Runtime

DEFAULT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a purge did (``cutoff`` is None when retention is off)."""

    retention_days: int
    cutoff: str | None
    purged: int
    accounts: int


def purge_unlock_values(
    rt: Runtime, days: int | None = None, *, batch_size: int = DEFAULT_BATCH, trace_id: str | None = None
) -> PurgeReport:
    """Remove the values of unlocks created more than ``days`` ago (default: the configured retention)."""
    days = rt.settings.unlock_retention_days if days is None else days
    if days < 0:
        raise InvalidRequest("days must not be negative.", {"field": "days"})
    if days == 0:
        return PurgeReport(0, None, 0, 0)
    now = rt.clock.now()
    cutoff = now - timedelta(days=days)
    purged = 0
    accounts: set[int] = set()
    while True:
        with rt.db.write() as conn:
            rows = values_created_before(conn, cutoff, batch_size)
            if not rows:
                break
            remove_values(conn, [r.id for r in rows], now)
            bump_tasks_showing(conn, sorted({r.personnel_id for r in rows}))
            per_account = Counter(r.account_id for r in rows)
            audit.record(
                conn,
                [
                    audit.AuditEntry(
                        AuditAction.UNLOCK_PURGE, account, "unlock", None, None, {"values": n, "retentionDays": days}
                    )
                    for account, n in sorted(per_account.items())
                ],
                now,
                trace_id,
            )
        purged += len(rows)
        accounts.update(per_account)
    return PurgeReport(days, cutoff.isoformat().replace("+00:00", "Z"), purged, len(accounts))


def purge_audit_rows(rt: Runtime, days: int | None = None, *, batch_size: int = DEFAULT_BATCH) -> int:
    """Delete audit rows older than ``days`` (default ``CONTACTVAULT_AUDIT_RETENTION_DAYS``; 0 keeps them all), in
    short batches; returns how many."""
    days = rt.settings.audit_retention_days if days is None else days
    if days < 0:
        raise InvalidRequest("days must not be negative.", {"field": "days"})
    if days == 0:
        return 0
    cutoff = rt.clock.now() - timedelta(days=days)
    purged = 0
    while True:
        with rt.db.write() as conn:
            n = audit.purge_before(conn, cutoff, batch_size)
        purged += n
        if n < batch_size:
            return purged
