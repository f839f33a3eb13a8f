"""Reading the audit log for operators: newest first, optionally one account's, since a moment."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from contactvault.server.db import audit
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.runtime import Runtime

MAX_LIMIT = 10_000


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _task_of(detail: dict[str, Any]) -> int | None:
    task = str(detail.get("task", ""))
    return int(task) if task.isdigit() else None


def list_entries(
    rt: Runtime, *, account_id: int | None = None, since: datetime | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Audit rows as JSON-ready dicts (ids as strings, ``detail`` parsed), newest first.

    Rows written by a worker (captures, releases, reveals) carry no request of their own: their ``traceId`` is the
    one of the submission that created their task, so one id follows a task from request to reveal.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}.", {"field": "limit"})
    if since is not None and since.tzinfo is None:
        raise InvalidRequest("since needs a timezone, e.g. 2026-01-01T00:00:00Z.", {"field": "since"})
    with rt.db.read() as conn:
        rows = audit.newest(conn, account_id=account_id, since=since, limit=limit)
        details = [json.loads(r.detail) if r.detail else {} for r in rows]
        task_ids = {t for r, d in zip(rows, details, strict=True) if not r.trace_id and (t := _task_of(d)) is not None}
        task_traces = audit.task_traces(conn, task_ids)
    return [
        {
            "id": str(r.id),
            "createdAt": _iso(r.created_at),
            "accountId": None if r.account_id is None else str(r.account_id),
            "action": r.action,
            "subjectType": r.subject_type,
            "subjectId": r.subject_id,
            "credits": r.credits,
            "detail": d,
            "traceId": r.trace_id or task_traces.get(_task_of(d) or 0),
        }
        for r, d in zip(rows, details, strict=True)
    ]
