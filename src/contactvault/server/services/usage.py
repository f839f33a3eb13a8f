"""An account's spending over a period, grouped by UTC day, task or call source (``contactvault admin usage``).

From the ledger's task postings: ``held`` sums the holds, ``charged`` the captures and ``released`` the releases
posted in the period; ``tasks`` counts the distinct tasks with a posting there. A task held before ``since`` and
settled after it shows its captures and releases but not its hold, exactly as the ledger has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from contactvault.server.db import ledger_reads
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.runtime import Runtime

Grouping = Literal["day", "task", "source"]
GROUPINGS: tuple[Grouping, ...] = ("day", "task", "source")


@dataclass(slots=True)
class UsageRow:
    """The spending of one group (a day ``YYYY-MM-DD``, a task id or a call source)."""

    key: str
    task_ids: set[int] = field(default_factory=set)
    held: int = 0
    charged: int = 0
    released: int = 0

    @property
    def tasks(self) -> int:
        """How many distinct tasks posted in this group."""
        return len(self.task_ids)


def usage(rt: Runtime, account_id: int, since: datetime, by: str) -> list[UsageRow]:
    """The account's spending since ``since``, one row per group, in key order (``InvalidRequest`` naming ``by``
    for an unknown grouping)."""
    if by not in GROUPINGS:
        raise InvalidRequest(f"by must be one of {', '.join(GROUPINGS)}.", {"field": "by"})
    with rt.db.read() as conn:
        postings = ledger_reads.task_postings_since(conn, account_id, since)
    rows: dict[str, UsageRow] = {}
    for p in postings:
        key = _key(p, by)
        row = rows.setdefault(key, UsageRow(key))
        row.task_ids.add(p.task_id)
        if p.kind == "hold":
            row.held += p.reserved_delta
        elif p.kind == "capture":
            row.charged -= p.reserved_delta
        else:
            row.released -= p.reserved_delta
    return sorted(rows.values(), key=lambda r: (len(r.key), r.key) if by == "task" else (0, r.key))


def _key(p: ledger_reads.SpendRow, by: str) -> str:
    if by == "day":
        return p.created_at.astimezone(UTC).date().isoformat()
    if by == "task":
        return str(p.task_id)
    return p.call_source
