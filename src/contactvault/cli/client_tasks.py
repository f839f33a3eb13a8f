"""``contactvault tasks show|resume|list``: one task on the server, and the runs kept in the local state file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live

from contactvault.cli import client_export, client_unlock
from contactvault.cli.client_common import (
    ApiKeyOpt,
    BaseUrlOpt,
    JsonOpt,
    StateFileOpt,
    YesOpt,
    connect,
    digits,
    err,
    handled_errors,
    is_interactive,
    out,
    wire,
)
from contactvault.cli.client_render import export_hint, result_summary, runs_table, task_view
from contactvault.cli.client_unlock import UNIT_COST, classify, progress_bar, result_json
from contactvault.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, emit, fail
from contactvault.client import Channel, StateStore
from contactvault.client.config import default_state_path
from contactvault.client.state import RunRecord

__all__ = ["register", "state_path"]

tasks_app = typer.Typer(
    help="Unlock tasks on the server and unlock runs in the local state file.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``tasks`` and ``export`` to the app."""
    app.add_typer(tasks_app, name="tasks", rich_help_panel="Client")
    app.command(rich_help_panel="Client")(client_export.export)


def state_path(option: str | None) -> Path:
    """The state file from --state-file, else $CONTACTVAULT_STATE_FILE, else the user data directory."""
    return Path(option).expanduser() if option else default_state_path()


@tasks_app.command("show")
def tasks_show(
    task_id: Annotated[str, typer.Argument(help="Task id.", show_default=False)],
    phone: Annotated[bool, typer.Option("--phone", help="A phone unlock task (default: email).")] = False,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Long-poll until the task finishes.")] = False,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Show an unlock task and its items; --watch follows it until it is completed or failed."""
    tid = digits(task_id, "task id")
    channel: Channel = "phone" if phone else "email"
    with handled_errors(base_url), connect(base_url, api_key) as client:
        task = client.unlocks.get(tid, channel)
        if watch and not task.is_terminal:
            if json_output:
                task = client.unlocks.wait(tid, channel)
            else:
                with Live(task_view(task), console=out(), auto_refresh=False) as live:
                    task = client.unlocks.wait(
                        tid, channel, on_update=lambda t: live.update(task_view(t), refresh=True)
                    )
                    live.update(task_view(task), refresh=True)
                return
    if json_output:
        emit(wire(task))
    else:
        out().print(task_view(task))


@tasks_app.command("resume")
def tasks_resume(
    state_file: StateFileOpt = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run (default: every unfinished one).")] = None,
    yes: YesOpt = False,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Finish every interrupted unlock run in the state file, without creating a task or charging twice.

    Batches that were never submitted spend credits when they are: that is asked first, unless --yes.
    """
    path = state_path(state_file)
    if not path.exists():
        _nothing_to_resume(json_output, f"no state file at {path}: nothing to resume")
        return
    with handled_errors(base_url), connect(base_url, api_key) as client, StateStore(path) as store:
        runs = [store.get_run(run_id)] if run_id else store.unfinished_runs(base_url=client.base_url)
        others = sorted({r.base_url for r in store.unfinished_runs() if r.base_url != client.base_url})
        for server in others:
            err().print(f"Unfinished runs for {server} were left alone: resume them with --base-url {server}.")
        pending = [run for run in runs if not run.is_finished]
        if not pending:
            _nothing_to_resume(json_output, f"nothing to resume in {path}")
            return
        total = sum(len(b.personnel_ids) for run in pending for b in store.batches(run.run_id) if not b.is_done)
        if not yes:
            confirm_unsent(store, pending)
        if not json_output:
            err().print(f"Resuming {len(pending)} run(s) from {path}...")
        with progress_bar(err(), enabled=not json_output, total=total, label="Resuming") as bar:
            results = client.resume(store, run_id=run_id, on_progress=bar)
    outcome = classify(results)
    if json_output:
        emit(
            {
                "runs": [result_json(r, classify([r])) for r in results],
                "outcome": outcome.name,
                "exitCode": outcome.exit_code,
            }
        )
    else:
        console = out()
        for result in results:
            console.print(result_summary(result, more=export_hint(result.run_id, state_file)))
    if outcome.exit_code != EXIT_OK:
        fail(f"resumed runs ended {outcome.name.replace('_', ' ')}", outcome.exit_code)


def confirm_unsent(store: StateStore, runs: Sequence[RunRecord]) -> None:
    """Ask before submitting batches that never got a task (waiting for existing tasks costs nothing new)."""
    people, credits = 0, 0
    for run in runs:
        unsent = [b for b in store.batches(run.run_id) if not b.is_done and b.task_id is None]
        count = sum(len(b.personnel_ids) for b in unsent)
        cost = UNIT_COST[run.channel] * count
        people += count
        credits += cost if run.max_credits is None else min(cost, run.max_credits)
    if people == 0:
        return
    if not is_interactive():
        fail(
            f"refusing to submit {people:,} people (up to {credits:,} credits) without confirmation: "
            "no terminal to ask on; pass --yes",
            EXIT_USAGE,
        )
    if not client_unlock.default_ask(f"Submit {people:,} people not yet submitted, for up to {credits:,} credits?"):
        fail("cancelled: nothing was resumed", EXIT_FAILED)


def _nothing_to_resume(json_output: bool, message: str) -> None:
    if json_output:
        emit({"runs": [], "outcome": "nothing_to_resume", "exitCode": EXIT_OK})
    else:
        out().print(message[:1].upper() + message[1:] + ".")


@tasks_app.command("list")
def tasks_list(
    state_file: StateFileOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the newest N runs.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """List the unlock runs recorded in the local state file, newest first (works offline)."""
    path = state_path(state_file)
    rows = []
    if path.exists():
        with handled_errors(), StateStore(path) as store:
            rows = [(run, store.run_result(run.run_id)) for run in store.list_runs(limit=limit)]
    if json_output:
        emit(
            {
                "stateFile": str(path),
                "runs": [
                    {
                        **result_json(result),
                        "baseUrl": run.base_url,
                        "requestedCount": run.requested_count,
                        "createdAt": run.created_at,
                        "finishedAt": run.finished_at,
                    }
                    for run, result in rows
                ],
            }
        )
        return
    console = out()
    if not rows:
        console.print(f"No unlock runs in {path}.")
        return
    console.print(runs_table(rows))
    unfinished = sum(1 for run, _ in rows if not run.is_finished)
    if unfinished:
        console.print(f"{unfinished} unfinished: `contactvault tasks resume` continues them.", style="yellow")
