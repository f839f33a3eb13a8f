"""``contactvault unlock``: choose people, show the estimate, confirm, unlock with a progress bar, summarise.

Exit codes (docs/cli.md): 0 every chargeable contact was delivered (or nobody needed unlocking); 1 failed
(none of the chargeable contacts was delivered, the run was declined, or an error); 2 usage (bad options, no
terminal to confirm on without --yes); 3 insufficient credits (the estimate exceeds the balance, or the server
answered 402 for a batch); 4 partially delivered (at least one chargeable contact delivered and at least one
not). "Chargeable" means the run submitted the person for unlocking; people skipped before any charge (already
unlocked, not found, not in the event) count for nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from contactvault.cli.client_common import (
    EXIT_INTERRUPTED,
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
)
from contactvault.cli.client_render import estimate_table, export_hint, result_summary
from contactvault.cli.common import EXIT_FAILED, EXIT_INSUFFICIENT, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, emit, fail
from contactvault.client import Client, UnlockEstimate, UnlockProgress, UnlockResult
from contactvault.client.config import default_state_path

__all__ = [
    "ID_COLUMNS",
    "Outcome",
    "ProgressBar",
    "classify",
    "confirm_spending",
    "read_id_file",
    "register",
    "result_json",
    "run_unlock",
]

ID_COLUMNS = ("id", "personnel_id", "personnelid")
UNIT_COST = {"email": 15, "phone": 150}


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a run (or several) ended, as a word for --json and an exit code."""

    name: str
    exit_code: int


def classify(results: Sequence[UnlockResult]) -> Outcome:
    """The exit code of one or more finished runs, taken together (see the module docstring)."""
    delivered = sum(len(r.delivered) for r in results)
    failed = sum(r.failed_count for r in results)
    short = sum(1 for r in results for s in r.skipped if s.reason == "insufficient_credits")
    if short:
        return Outcome("insufficient_credits", EXIT_INSUFFICIENT)
    if failed == 0:
        return Outcome("delivered" if delivered else "nothing_to_unlock", EXIT_OK)
    if delivered:
        return Outcome("partial", EXIT_PARTIAL)
    return Outcome("failed", EXIT_FAILED)


def result_json(result: UnlockResult, outcome: Outcome | None = None) -> dict[str, Any]:
    """An UnlockResult as camelCase JSON, addresses included (stdout is the caller's own data)."""
    estimate = result.estimate
    rec = result.reconciliation
    body: dict[str, Any] = {
        "runId": result.run_id,
        "eventId": result.event_id,
        "channel": result.channel,
        "status": result.status,
        "estimate": estimate_json(estimate) if estimate else None,
        "delivered": [
            {
                "personnelId": c.personnel_id,
                "fullName": c.full_name,
                "title": c.title,
                "companyName": c.company_name,
                c.channel: c.value,
                "verification": c.verification.model_dump(mode="json", by_alias=True) if c.verification else None,
                "unlockedAt": c.unlocked_at,
                "taskId": c.task_id,
            }
            for c in result.delivered
        ],
        "failed": [
            {"personnelId": f.personnel_id, "errorCode": f.error_code, "taskId": f.task_id}
            for group in result.failed.values()
            for f in group
        ],
        "failedByCode": {code: len(group) for code, group in sorted(result.failed.items())},
        "skipped": [{"personnelId": s.personnel_id, "reason": s.reason} for s in result.skipped],
        "reconciliation": (
            {
                "before": rec.before,
                "after": rec.after,
                "charged": rec.charged,
                "difference": rec.difference,
                "ok": rec.ok,
            }
            if rec
            else None
        ),
        "taskIds": list(result.task_ids),
    }
    if outcome is not None:
        body["outcome"] = outcome.name
        body["exitCode"] = outcome.exit_code
    return body


def estimate_json(estimate: UnlockEstimate) -> dict[str, Any]:
    """An UnlockEstimate as camelCase JSON."""
    return {
        "eventId": estimate.event_id,
        "channel": estimate.channel,
        "count": estimate.count,
        "credits": estimate.credits,
        "balance": estimate.balance,
        "balanceAfter": estimate.balance_after,
        "maxCredits": estimate.max_credits,
        "affordable": estimate.is_affordable,
        "personnelIds": list(estimate.personnel_ids),
    }


# -- choosing people ---------------------------------------------------------------------------------------


def parse_ids(text: str, where: str) -> list[str]:
    """Ids from a comma/space separated list; a usage error names the first bad one."""
    ids = [part for part in text.replace(",", " ").split() if part]
    for pid in ids:
        if not pid.isdigit() or len(pid) > 20:
            fail(f"{where}: not a personnel id: {pid!r}", EXIT_USAGE)
    return ids


def read_id_file(path: str) -> list[str]:
    """Ids from a CSV (column ``id`` or ``personnel_id``, else the first) or one id a line; ``-`` is stdin."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        fail(f"cannot read --from-file {path}: {reason}", EXIT_USAGE)
    reader = csv.reader(io.StringIO(text))
    rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        fail(f"--from-file {path} holds no ids", EXIT_USAGE)
    header = [cell.strip().lower() for cell in rows[0][1]]
    column = 0
    if any(name in ID_COLUMNS for name in header):
        column = next(i for i, name in enumerate(header) if name in ID_COLUMNS)
        rows = rows[1:]
    elif not header[0].isdigit():
        rows = rows[1:]  # a header without a known id column: the ids are in the first column
    ids = []
    for line, row in rows:
        value = row[column].strip() if column < len(row) else ""
        if not value:
            continue
        if not value.isdigit() or len(value) > 20:
            fail(f"--from-file {path}: not a personnel id: {value!r} (line {line})", EXIT_USAGE)
        ids.append(value)
    if not ids:
        fail(f"--from-file {path} holds no ids", EXIT_USAGE)
    return ids


def search_ids(client: Client, event_id: str, query: str) -> list[str]:
    """Everyone at the event whose title or name matches ``query``."""
    return [person.id for person in client.personnel.iter(event_id, search_query=query)]


# -- confirming and progress -------------------------------------------------------------------------------


@dataclasses.dataclass
class ConfirmState:
    """Why the confirmation callback said no, so that the command can pick the exit code and message."""

    refusal: str | None = None
    estimate: UnlockEstimate | None = None


def confirm_spending(
    *, yes: bool, console: Console, show: bool, state: ConfirmState
) -> Callable[[UnlockEstimate], bool]:
    """The workflow's ``confirm``: refuse what the balance cannot cover, then ask unless --yes."""

    def confirm(estimate: UnlockEstimate) -> bool:
        state.estimate = estimate
        if show:
            console.print(estimate_table(estimate))
        if not estimate.is_affordable:
            state.refusal = "insufficient"
            return False
        if yes:
            return True
        if not is_interactive():
            state.refusal = "no_tty"
            return False
        question = f"Unlock {estimate.count:,} for up to {max_spend(estimate):,} credits?"
        if default_ask(question):
            return True
        state.refusal = "declined"
        return False

    return confirm


def max_spend(estimate: UnlockEstimate) -> int:
    """The most the run can charge: the estimate, or the cap when lower."""
    return estimate.balance - estimate.balance_after


def default_ask(question: str) -> bool:
    """Ask on stderr (stdout stays clean for --json); no is the default."""
    return typer.confirm(question, default=False, err=True)


class ProgressBar:
    """Turns the workflow's progress reports into one rich bar over all batches (started after the prompt)."""

    def __init__(self, console: Console, *, enabled: bool, total: int = 0, label: str = "Unlocking") -> None:
        self._console = console
        self._enabled = enabled
        self._total = total
        self._label = label
        self._progress: Progress | None = None
        self._task: Any = None
        self._finished_batches = 0
        self._batch_total = 0

    def __call__(self, event: UnlockProgress) -> None:
        """Receive one progress report from the workflow."""
        if not self._enabled:
            return
        if event.stage == "lookup":
            who = "1 person" if event.total == 1 else f"{event.total:,} people"
            self._console.print(f"Looking up {who}...", style="dim")
            return
        if event.stage == "estimate":
            self._total = event.total
            return
        if event.stage in {"submitted", "task"}:
            self._start()
            if event.stage == "task":
                self._batch_total = event.total
            self._update(event, event.done if event.stage == "task" else 0)
        elif event.stage == "batch_done":
            self._finished_batches += self._batch_total
            self._batch_total = 0
            self._update(event, 0)
        elif event.stage == "done" and self._progress is not None:
            self._progress.update(self._task, completed=self._progress.tasks[0].total, description="Done")

    def _start(self) -> None:
        if self._progress is not None:
            return
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._console,
        )
        self._progress.start()
        self._task = self._progress.add_task(self._label, total=max(self._total, 1))

    def _update(self, event: UnlockProgress, done_in_batch: int) -> None:
        if self._progress is None:
            return
        where = f"batch {event.batch}/{event.batches}" if event.batches else ""
        self._progress.update(
            self._task,
            completed=min(self._finished_batches + done_in_batch, self._total),
            description=f"{self._label} {where}".strip(),
        )

    def stop(self) -> None:
        """Stop the live display (idempotent)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


@contextmanager
def progress_bar(console: Console, *, enabled: bool, total: int = 0, label: str = "Unlocking") -> Iterator[ProgressBar]:
    """A ProgressBar that is always stopped, whatever happens."""
    bar = ProgressBar(console, enabled=enabled, total=total, label=label)
    try:
        yield bar
    finally:
        bar.stop()


# -- the command -------------------------------------------------------------------------------------------


def run_unlock(
    client: Client,
    event_id: str,
    ids: Sequence[str],
    *,
    phone: bool,
    max_credits: int | None,
    confirm: Callable[[UnlockEstimate], bool],
    state_file: str | None,
    on_progress: Callable[[UnlockProgress], None],
) -> UnlockResult:
    """Run the SDK workflow for one channel."""
    unlock = client.unlock_phones if phone else client.unlock_emails
    return unlock(
        event_id, ids, confirm=confirm, max_credits=max_credits, state_file=state_file, on_progress=on_progress
    )


def refusal_exit(estimate: UnlockEstimate, refusal: str | None, phone: bool) -> tuple[str, int, str]:
    """(outcome, exit code, message) for a run the confirmation stopped."""
    unit = "phone numbers" if phone else "emails"
    if refusal == "insufficient":
        spend = max_spend(estimate)
        return (
            "insufficient_credits",
            EXIT_INSUFFICIENT,
            f"insufficient credits: unlocking {estimate.count:,} {unit} costs {spend:,} credits but the balance "
            f"is {estimate.balance:,} (short by {spend - estimate.balance:,}); nothing was spent",
        )
    if refusal == "no_tty":
        return (
            "not_confirmed",
            EXIT_USAGE,
            f"refusing to spend up to {max_spend(estimate):,} credits without confirmation: no terminal to ask on; "
            "pass --yes",
        )
    return "cancelled", EXIT_FAILED, "cancelled: nothing was spent"


def short_message(result: UnlockResult) -> str:
    """The line for people the server refused with 402 in the middle of a run."""
    short = [s for s in result.skipped if s.reason == "insufficient_credits"]
    needed = UNIT_COST[result.channel] * len(short)
    available = result.reconciliation.after if result.reconciliation else None
    have = f"; the balance is now {available:,}" if available is not None else ""
    return (
        f"insufficient credits: the server refused {len(short):,} contacts needing {needed:,} credits (402){have}; "
        "they were not charged"
    )


def register(app: typer.Typer) -> None:
    """Add ``unlock`` to the app."""
    app.command(rich_help_panel="Client")(unlock)


def unlock(
    event: Annotated[str, typer.Option("--event", "-e", help="Event id.", show_default=False)],
    ids: Annotated[str | None, typer.Option("--ids", help="Personnel ids, comma separated.")] = None,
    from_file: Annotated[
        str | None,
        typer.Option(
            "--from-file", help="CSV with an id/personnel_id column (else the first), or one id a line; - is stdin."
        ),
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Everyone at the event whose title or name matches, e.g. 'VP'.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N selected people.")] = None,
    phone: Annotated[
        bool, typer.Option("--phone", help="Unlock phone numbers (150 credits) instead of emails (15).")
    ] = False,
    max_credits: Annotated[
        int | None, typer.Option("--max-credits", min=0, help="Never charge more than this in total.")
    ] = None,
    yes: YesOpt = False,
    state_file: StateFileOpt = None,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Unlock the work emails (or phones) of people at an event: estimate, confirm, unlock, reconcile.

    Choose people with exactly one of --ids, --from-file or --search.

    Exit codes: 0 all delivered, 1 failed, 2 usage, 3 insufficient credits, 4 partially delivered.

    An interrupted run continues with `contactvault tasks resume`; nobody is charged twice.
    """
    event_id = digits(event, "--event")
    chosen = [name for name, value in (("--ids", ids), ("--from-file", from_file), ("--search", search)) if value]
    if len(chosen) != 1:
        given = " and ".join(chosen) if chosen else "none"
        fail(f"choose people with exactly one of --ids, --from-file or --search (given: {given})", EXIT_USAGE)
    selected: list[str] = []
    if ids is not None:
        selected = parse_ids(ids, "--ids")
    elif from_file is not None:
        selected = read_id_file(from_file)
    console = err()
    state = ConfirmState()
    path = state_file or str(default_state_path())
    with handled_errors(base_url), connect(base_url, api_key) as client:
        if search is not None:
            selected = search_ids(client, event_id, search)
            if not selected:
                fail(f"nobody at event {event_id} matches {search!r}", EXIT_FAILED)
        if limit is not None:
            selected = selected[:limit]
        if not selected:
            fail("no personnel ids given", EXIT_USAGE)
        confirm = confirm_spending(yes=yes, console=console, show=not json_output, state=state)
        try:
            with progress_bar(console, enabled=not json_output) as bar:
                result = run_unlock(
                    client,
                    event_id,
                    selected,
                    phone=phone,
                    max_credits=max_credits,
                    confirm=confirm,
                    state_file=path,
                    on_progress=bar,
                )
        except KeyboardInterrupt:
            fail(f"interrupted; continue with `contactvault tasks resume --state-file {path}`", EXIT_INTERRUPTED)
    finish(result, state, phone=phone, json_output=json_output, state_file=state_file)


def finish(
    result: UnlockResult, state: ConfirmState, *, phone: bool, json_output: bool, state_file: str | None = None
) -> None:
    """Print the summary (or JSON) and exit with the run's code."""
    if result.status == "cancelled":
        estimate = result.estimate or state.estimate
        if estimate is None:  # not with this SDK: a cancelled run carries the estimate it was refused on
            fail("cancelled: nothing was spent", EXIT_FAILED)
        name, code, message = refusal_exit(estimate, state.refusal, phone)
        if json_output:
            emit({**result_json(result), "outcome": name, "exitCode": code})
        fail(message, code)
    outcome = classify([result])
    if json_output:
        emit(result_json(result, outcome))
    else:
        console = out()
        if result.status == "nothing_to_unlock":
            console.print(f"Nothing to unlock: all {len(result.skipped):,} people were skipped, nothing was spent.")
        console.print(result_summary(result, more=export_hint(result.run_id, state_file)))
    if outcome.exit_code == EXIT_INSUFFICIENT:
        fail(short_message(result), EXIT_INSUFFICIENT)
    if outcome.exit_code != EXIT_OK:
        failed = result.failed_count
        word = "partially delivered" if outcome.exit_code == EXIT_PARTIAL else "failed"
        fail(
            f"{word}: {failed:,} of {failed + len(result.delivered):,} contacts were not delivered (not charged)",
            outcome.exit_code,
        )
