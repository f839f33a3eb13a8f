"""``contactvault tasks show|resume|list``: one task on the server, and the runs kept in the local state file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live

from contactvault.cli.client import export, unlock
from contactvault.cli.client.common import (
    EXIT_INTERRUPTED,
    ApiKeyOpt,
    BaseUrlOpt,
    InsecureOpt,
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
from contactvault.cli.client.interruptions import stop_reason
from contactvault.cli.client.render import export_hint, plural, result_summary, runs_table, task_view
from contactvault.cli.client.unlock import UNIT_COST, classify, progress_bar, result_json
from contactvault.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, emit, fail
from contactvault.client import APIError, Channel, Client, NotFoundError, StateStore, UnlockTask
from contactvault.client.config import default_state_path
from contactvault.client.state import RunRecord

__all__ = ["register", "state_path"]

tasks_app = typer.Typer(
    help="Unlock tasks on the server and unlock runs in the local state file.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``tasks`` and ``export`` to the app."""
    app.add_typer(tasks_app, name="tasks", rich_help_panel="Client")
    app.command(rich_help_panel="Client")(export.export)


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
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Show an unlock task and its items; --watch follows it until it is completed or failed."""
    tid = digits(task_id, "task id")
    with handled_errors(base_url, api_key), connect(base_url, api_key, insecure=insecure) as client:
        task, channel = find_task(client, tid, "phone" if phone else "email")
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


def find_task(client: Client, task_id: str, asked: Channel) -> tuple[UnlockTask, Channel]:
    """The task on the channel asked for, else on the other one (saying so); one clear 404 when on neither.

    Email and phone tasks are separate resources with their own ids, and a summary line shows only the id.
    """
    try:
        return client.unlocks.get(task_id, asked), asked
    except NotFoundError:
        pass
    other: Channel = "email" if asked == "phone" else "phone"
    try:
        task = client.unlocks.get(task_id, other)
    except NotFoundError:
        fail(f"not found: no email or phone unlock task {task_id} for this API key", EXIT_FAILED)
    fix = "add --phone to ask for it directly" if other == "phone" else "drop --phone to ask for it directly"
    err().print(f"Task {task_id} is {'a phone' if other == 'phone' else 'an email'} unlock task ({fix}).")
    return task, other


@tasks_app.command("resume")
def tasks_resume(
    state_file: StateFileOpt = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run (default: every unfinished one).")] = None,
    yes: YesOpt = False,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Finish every interrupted unlock run in the state file, without creating a task or charging twice.

    Batches that were never submitted spend credits when they are: that is asked first, unless --yes.
    """
    path = state_path(state_file)
    if not path.exists():
        _nothing_to_resume(json_output, f"no state file at {path}: nothing to resume")
        return
    with (
        handled_errors(base_url, api_key),
        connect(base_url, api_key, insecure=insecure) as client,
        StateStore(path) as store,
    ):
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
            err().print(f"Resuming {plural(len(pending), 'run')} from {path}...")
        again = f"contactvault tasks resume{f' --run {run_id}' if run_id else ''} --state-file {path}"
        try:
            with progress_bar(err(), enabled=not json_output, total=total, label="Resuming") as bar:
                results = client.resume(store, run_id=run_id, on_progress=bar)
        except KeyboardInterrupt:
            saved = f"the runs are saved: continue with `{again}` (nobody is charged twice)"
            fail(f"interrupted; {saved}", EXIT_INTERRUPTED)
        except APIError as exc:
            fail(f"{stop_reason(exc, client.base_url)}; the runs are saved: try `{again}` again", EXIT_FAILED)
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
            f"refusing to submit {plural(people, 'person')} (up to {plural(credits, 'credit')}) without confirmation: "
            "no terminal to ask on; pass --yes",
            EXIT_USAGE,
        )
    question = f"Submit {plural(people, 'person')} not yet submitted, for up to {plural(credits, 'credit')}?"
    if not unlock.default_ask(question):
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
