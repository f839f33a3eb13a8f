"""``contactvault credits`` (the balance) and ``contactvault credits history`` (the itemised ledger)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from contactvault.cli.client.common import (
    ApiKeyOpt,
    BaseUrlOpt,
    InsecureOpt,
    JsonOpt,
    connect,
    digits,
    handled_errors,
    out,
    wire,
)
from contactvault.cli.client.render import balance_table, page_footer
from contactvault.cli.client.tables import Col, FitTable
from contactvault.cli.common import EXIT_USAGE, emit, fail
from contactvault.client import LedgerEntry

__all__ = ["credits_app"]

KINDS = ("grant", "hold", "capture", "release", "expire")

credits_app = typer.Typer(
    help="Show the account's credit balance (`credits history`: every posting).", invoke_without_command=True
)


@credits_app.callback()
def credits(
    ctx: typer.Context,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Show the account's credit balance."""
    if ctx.invoked_subcommand is not None:
        return
    with handled_errors(base_url, api_key), connect(base_url, api_key, insecure=insecure) as client:
        balance = client.credits.balance()
    if json_output:
        emit(wire(balance))
    else:
        out().print(balance_table(balance))


@credits_app.command("history")
def history(
    task: Annotated[str | None, typer.Option("--task", help="Only this task's postings.")] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Only this kind (grant, hold, capture, release, expire); repeatable."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="At or after this ISO 8601 date-time (or YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this ISO 8601 date-time (or YYYY-MM-DD).")] = None,
    page: Annotated[int, typer.Option("--page", min=1, help="Page number.")] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=100, help="Postings per page (1-100).")] = 20,
    all_pages: Annotated[bool, typer.Option("--all", help="Every page (ignores --page).")] = False,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """List the account's credit postings, newest first, with the task and where it came from (api, agent, cli,
    console)."""
    kinds = sorted(set(kind or ()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        fail(f"--kind must be one of {', '.join(KINDS)}, got {unknown[0]!r}", EXIT_USAGE)
    task_id = digits(task, "--task") if task is not None else None
    kinds_sent = kinds or None
    with handled_errors(base_url, api_key), connect(base_url, api_key, insecure=insecure) as client:
        if all_pages:
            items = list(
                client.credits.iter_transactions(
                    task_id=task_id, kind=kinds_sent, since=since, until=until, page_size=100
                )
            )
            if json_output:
                emit({"items": [wire(item) for item in items], "total": len(items)})
            else:
                out().print(ledger_table(items, f"Credit history ({len(items):,})"))
            return
        result = client.credits.transactions(
            task_id=task_id, kind=kinds_sent, since=since, until=until, page=page, page_size=page_size
        )
    if json_output:
        emit(wire(result))
        return
    console = out()
    console.print(ledger_table(result.items, "Credit history"))
    console.print(page_footer(result, "posting"))


def ledger_table(entries: Sequence[LedgerEntry], title: str) -> FitTable:
    """Postings, one a row: what each did to the spendable and held credits."""
    table = FitTable(
        [
            Col("When", "copy"),
            Col("Kind"),
            Col("Available", "copy", "right"),
            Col("Held", "copy", "right"),
            Col("Bucket", "drop"),
            Col("Task", "copy", "right"),
            Col("Source", "drop"),
        ],
        title=title,
        record_noun="posting",
    )
    for e in entries:
        when = (e.created_at or "").replace("T", " ").removesuffix("Z")
        table.add_row(
            when,
            e.kind,
            _signed(e.available_delta),
            _signed(e.held_delta),
            e.bucket,
            e.task_id or "",
            e.call_source or "",
        )
    return table


def _signed(n: int) -> str:
    return f"{n:+,}" if n else "0"
