"""The service at a glance for an operator (``contactvault admin status``): the queue, the workers, recent
outcomes, the database's size and the housekeeping jobs' last runs, read from the database so any node (or none)
can answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contactvault.server.db import housekeeping, status_reads
from contactvault.server.db.housekeeping import JobState
from contactvault.server.db.status_reads import WorkerSeen
from contactvault.server.domain.tasks import ItemStatus
from contactvault.server.runtime import Runtime

WORKERS_WINDOW = timedelta(minutes=1)
OUTCOMES_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Status:
    """``queue``: items by status (every status present, zero included); ``oldest_pending_seconds``: how long the
    oldest pending item's task has waited; ``workers``: loops seen in the last minute; ``outcomes``: items finished
    in the last five minutes by outcome (``unlocked`` or an error code); ``error_rate``: the failed share of those
    (None when none finished); ``database_bytes``: the size on disk; ``housekeeping``: each scheduled job's row
    (when it last ran, how long, rows affected, its last error, when it is next due), by name."""

    now: datetime
    queue: dict[str, int]
    oldest_pending_seconds: float | None
    workers: list[WorkerSeen]
    outcomes: dict[str, int]
    error_rate: float | None
    database_bytes: int | None
    housekeeping: list[JobState]


def status(rt: Runtime) -> Status:
    """Read the status now."""
    now = rt.clock.now()
    with rt.db.read() as conn:
        counts = status_reads.items_by_status(conn)
        oldest = status_reads.oldest_pending_since(conn)
        workers = status_reads.workers_since(conn, now - WORKERS_WINDOW)
        outcomes = status_reads.finished_since(conn, now - OUTCOMES_WINDOW)
        size = status_reads.database_bytes(conn)
        jobs = housekeeping.job_states(conn)
    queue = {s.value: counts.get(s.value, 0) for s in ItemStatus}
    finished = sum(outcomes.values())
    failed = finished - outcomes.get(ItemStatus.UNLOCKED.value, 0)
    return Status(
        now=now,
        queue=queue,
        oldest_pending_seconds=None if oldest is None else max(0.0, (now - oldest).total_seconds()),
        workers=workers,
        outcomes=outcomes,
        error_rate=round(failed / finished, 4) if finished else None,
        database_bytes=size,
        housekeeping=jobs,
    )
