"""``contactvault admin usage`` (an account's spending) and ``contactvault admin status`` (the service at a glance)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from contactvault.cli.admin.common import DbOption, admin_runtime, domain_errors
from contactvault.cli.common import EXIT_USAGE, emit, fail

if TYPE_CHECKING:
    from contactvault.server.db.housekeeping import JobState
    from contactvault.server.services.usage import UsageRow

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (for scripts).")]


def register(app: typer.Typer) -> None:
    """Add ``usage`` and ``status`` to the ``admin`` app."""
    app.command("usage")(usage)
    app.command("status")(status)


def status(db: DbOption = None) -> None:
    """The service at a glance (JSON): queue depth by state, the oldest pending item's wait, workers seen in the
    last minute with their last loop time, outcomes and error rate over the last 5 minutes, database size, and the
    housekeeping jobs' last runs."""
    from contactvault.server.services import status as status_service

    with admin_runtime(db) as rt:
        now = status_service.status(rt)
    emit(
        {
            "at": _iso(now.now),
            "queue": now.queue,
            "oldestPendingSeconds": now.oldest_pending_seconds,
            "workers": [
                {"workerId": w.worker_id, "startedAt": _iso(w.started_at), "lastLoopAt": _iso(w.last_loop_at)}
                for w in now.workers
            ],
            "lastFiveMinutes": {"outcomes": now.outcomes, "errorRate": now.error_rate},
            "databaseBytes": now.database_bytes,
            "housekeeping": [_job_json(job, now.now) for job in now.housekeeping],
        }
    )


def _job_json(job: JobState, now: datetime) -> dict[str, Any]:
    running = job.lease_expires_at is not None and job.lease_expires_at > now
    return {
        "job": job.job,
        "running": running,
        "lastStartedAt": _iso_or_none(job.last_started_at),
        "lastFinishedAt": _iso_or_none(job.last_finished_at),
        "lastOkAt": _iso_or_none(job.last_ok_at),
        "durationSeconds": job.last_duration_seconds,
        "rows": job.last_rows,
        "lastError": job.last_error,
        "nextDueAt": _iso_or_none(job.next_due_at),
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else _iso(moment)


def usage(
    account: Annotated[str, typer.Option(help="Account id.")],
    since: Annotated[str, typer.Option(help="From this ISO 8601 date-time or YYYY-MM-DD (UTC), inclusive.")],
    by: Annotated[str, typer.Option("--by", help="Group by day (UTC), task or source.")] = "day",
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """An account's spending since a moment: credits held, charged and released, and tasks, per group."""
    from contactvault.server.services import usage as usage_service
    from contactvault.server.services.ledger_view import parse_id, parse_moment

    with domain_errors():
        account_id = parse_id(account, "account")
        moment = parse_moment(since, "since")
        if by not in usage_service.GROUPINGS:
            fail(f"--by must be one of {', '.join(usage_service.GROUPINGS)}, got {by!r}", EXIT_USAGE)
    if account_id is None or moment is None:  # pragma: no cover - both options are required
        fail("--account and --since are required", EXIT_USAGE)
    with admin_runtime(db) as rt, domain_errors():
        rows = usage_service.usage(rt, account_id, moment, by)
    body = _usage_body(account_id, moment.isoformat().replace("+00:00", "Z"), by, rows)
    if json_output:
        emit(body)
    else:
        Console().print(_usage_table(body))


def _usage_body(account_id: int, since: str, by: str, rows: list[UsageRow]) -> dict[str, Any]:
    return {
        "accountId": str(account_id),
        "since": since,
        "by": by,
        "rows": [
            {by: r.key, "tasks": r.tasks, "held": r.held, "charged": r.charged, "released": r.released} for r in rows
        ],
        "total": {
            # A task spanning two days is in two day rows: the day total of tasks would count it twice.
            "tasks": sum(r.tasks for r in rows) if by != "day" else len({t for r in rows for t in r.task_ids}),
            "held": sum(r.held for r in rows),
            "charged": sum(r.charged for r in rows),
            "released": sum(r.released for r in rows),
        },
    }


def _usage_table(body: dict[str, Any]) -> Table:
    by = str(body["by"])
    table = Table(title=f"Usage of account {body['accountId']} since {body['since']}", title_justify="left")
    table.add_column(by.capitalize())
    for name in ("Tasks", "Held", "Charged", "Released"):
        table.add_column(name, justify="right")
    for r in [*body["rows"], {by: "Total", **body["total"]}]:
        if r[by] == "Total":
            table.add_section()
        table.add_row(str(r[by]), *(f"{r[k]:,}" for k in ("tasks", "held", "charged", "released")))
    return table
