"""``contactvault unlock``: choose people, show the estimate, confirm, unlock with a progress bar, summarise.

Exit codes (docs/cli.md): 0 every chargeable contact was delivered (or nobody needed unlocking); 1 failed
(none of the chargeable contacts was delivered, the run was declined, or an error); 2 usage (bad options, no
terminal to confirm on without --yes); 3 insufficient credits (the estimate exceeds the balance, or the server
answered 402 for a batch); 4 partially delivered (at least one chargeable contact delivered and at least one
not); 130 interrupted (Ctrl-C). "Chargeable" means the run submitted the person for unlocking; people skipped
before any charge (already unlocked, not found, not in the event) count for nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from contactvault.cli.client.common import (
    EXIT_INTERRUPTED,
    ApiKeyOpt,
    BaseUrlOpt,
    InsecureOpt,
    JsonOpt,
    StateFileOpt,
    YesOpt,
    canonical_id,
    connect,
    digits,
    err,
    handled_errors,
    is_interactive,
    out,
)
from contactvault.cli.client.interruptions import RunTracker, channel_of, stop_reason, stopped
from contactvault.cli.client.progress import ProgressBar, progress_bar
from contactvault.cli.client.render import estimate_table, export_hint, plural, result_summary
from contactvault.cli.common import EXIT_FAILED, EXIT_INSUFFICIENT, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, emit, fail
from contactvault.client import APIError, Client, UnlockEstimate, UnlockProgress, UnlockResult
from contactvault.client.config import default_state_path

__all__ = [
    "ID_COLUMNS",
    "Outcome",
    "ProgressBar",
    "classify",
    "confirm_spending",
    "progress_bar",
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
    ids = []
    for part in text.replace(",", " ").split():
        pid = canonical_id(part)
        if pid is None:
            fail(f"{where}: not a personnel id: {part!r}", EXIT_USAGE)
        ids.append(pid)
    return list(dict.fromkeys(ids))  # "7" and "07" are one person


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
        pid = canonical_id(value)
        if pid is None:
            fail(f"--from-file {path}: not a personnel id: {value!r} (line {line})", EXIT_USAGE)
        ids.append(pid)
    if not ids:
        fail(f"--from-file {path} holds no ids", EXIT_USAGE)
    return list(dict.fromkeys(ids))  # "7" and "07" are one person


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
        unit = "email" if estimate.channel == "email" else "phone number"
        question = f"Unlock {plural(estimate.count, unit)} for up to {plural(max_spend(estimate), 'credit')}?"
        if default_ask(question):
            return True
        state.refusal = "declined"
        return False

    return confirm


def max_spend(estimate: UnlockEstimate) -> int:
    """The most the run can charge: the estimate, or the cap when lower."""
    return estimate.balance - estimate.balance_after


def default_ask(question: str) -> bool:
    """Ask on stderr (stdout stays clean for --json); no is the default.

    Ctrl-C (or end of input) at the prompt is an interruption, exit 130 with an ``error:`` line: click would
    print "Aborted." and exit 1.
    """
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort:
        sys.stderr.write("\n")  # end the prompt's line before the error line
        raise KeyboardInterrupt from None


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
    unit = "phone number" if phone else "email"
    if refusal == "insufficient":
        spend = max_spend(estimate)
        return (
            "insufficient_credits",
            EXIT_INSUFFICIENT,
            f"insufficient credits: unlocking {plural(estimate.count, unit)} costs {plural(spend, 'credit')} "
            f"but the balance is {estimate.balance:,} (short by {spend - estimate.balance:,}); nothing was spent",
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
        f"insufficient credits: the server refused {plural(len(short), 'contact')} needing {plural(needed, 'credit')} "
        f"(402){have}; "
        "they were not charged"
    )


def check_cap(max_credits: int | None, *, phone: bool) -> None:
    """A usage error for a --max-credits that cannot buy a single contact (nothing could ever be unlocked)."""
    unit = UNIT_COST["phone" if phone else "email"]
    if max_credits is not None and max_credits < unit:
        what = "one phone number" if phone else "one email"
        fail(
            f"--max-credits {max_credits} is below the price of one contact, so nothing could be unlocked: "
            f"{what} costs {unit} credits; give --max-credits {unit} or more",
            EXIT_USAGE,
        )


def register(app: typer.Typer) -> None:
    """Add ``unlock`` to the app."""
    app.command(rich_help_panel="Client")(unlock)


def unlock(
    event: Annotated[str, typer.Option("--event", "-e", help="Event id.", show_default=False)],
    ids: Annotated[
        list[str] | None,
        typer.Option(
            "--ids",
            metavar="IDS",
            help="Personnel ids, e.g. --ids 5,15,25 or --ids 5 15 25 (also '5 15 25' in quotes, or --ids again).",
            show_default=False,
        ),
    ] = None,
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
        int | None,
        typer.Option(
            "--max-credits", help="Never charge more than this in total (at least one contact's price: 15, phone 150)."
        ),
    ] = None,
    yes: YesOpt = False,
    state_file: StateFileOpt = None,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    insecure: InsecureOpt = False,
    json_output: JsonOpt = False,
    more_ids: Annotated[
        list[str] | None,
        typer.Argument(metavar="IDS", help="More personnel ids, as with --ids.", show_default=False),
    ] = None,
) -> None:
    """Unlock the work emails (or phones) of people at an event: estimate, confirm, unlock, reconcile.

    Choose people with exactly one of --ids (ids may also follow the options), --from-file or --search.

    Exit codes: 0 all delivered, 1 failed, 2 usage, 3 insufficient credits, 4 partially delivered,
    130 interrupted (Ctrl-C).

    An interrupted run (Ctrl-C: exit 130; a lost connection: exit 1) continues with `contactvault tasks resume`;
    nobody is charged twice.
    """
    event_id = digits(event, "--event")
    check_cap(max_credits, phone=phone)
    id_values = [*(ids or []), *(more_ids or [])]
    chosen = [name for name, value in (("--ids", id_values), ("--from-file", from_file), ("--search", search)) if value]
    if len(chosen) != 1:
        given = " and ".join(chosen) if chosen else "none"
        fail(f"choose people with exactly one of --ids, --from-file or --search (given: {given})", EXIT_USAGE)
    selected: list[str] = []
    if id_values:
        selected = parse_ids(" ".join(id_values), "--ids")
    elif from_file is not None:
        selected = read_id_file(from_file)
    console = err()
    state = ConfirmState()
    path = state_file or str(default_state_path())
    with handled_errors(base_url, api_key), connect(base_url, api_key, insecure=insecure) as client:
        if search is not None:
            selected = search_ids(client, event_id, search)
            if not selected:
                fail(f"nobody at event {event_id} matches {search!r}", EXIT_FAILED)
        if limit is not None:
            selected = selected[:limit]
        if not selected:
            fail("no personnel ids given", EXIT_USAGE)
        confirm = confirm_spending(yes=yes, console=console, show=not json_output, state=state)
        tracker = RunTracker()
        unstarted = UnlockResult(event_id, channel_of(phone), "interrupted", estimate=state.estimate)
        stop = functools.partial(
            stopped, tracker=tracker, state_file=path, json_output=json_output, to_json=result_json
        )
        try:
            with progress_bar(console, enabled=not json_output) as bar:
                tracker.forward = bar
                result = run_unlock(
                    client,
                    event_id,
                    selected,
                    phone=phone,
                    max_credits=max_credits,
                    confirm=confirm,
                    state_file=path,
                    on_progress=tracker,
                )
        except KeyboardInterrupt:
            unstarted = dataclasses.replace(unstarted, estimate=state.estimate)
            stop(reason="interrupted", outcome="interrupted", code=EXIT_INTERRUPTED, unstarted=unstarted)
        except APIError as exc:
            if tracker.run_id is None:
                raise  # nothing was submitted: the usual one-line error
            reason = stop_reason(exc, client.base_url)
            stop(reason=reason, outcome="stopped", code=EXIT_FAILED, unstarted=unstarted)
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
            skipped = len(result.skipped)
            who = "the one person was" if skipped == 1 else f"all {skipped:,} people were"
            console.print(f"Nothing to unlock: {who} skipped, nothing was spent.")
        console.print(result_summary(result, more=export_hint(result.run_id, state_file)))
    if outcome.exit_code == EXIT_INSUFFICIENT:
        fail(short_message(result), EXIT_INSUFFICIENT)
    if outcome.exit_code != EXIT_OK:
        failed = result.failed_count
        word = "partially delivered" if outcome.exit_code == EXIT_PARTIAL else "failed"
        fail(
            f"{word}: {failed:,} of {plural(failed + len(result.delivered), 'contact')} "
            f"{'was' if failed == 1 else 'were'} not delivered (not charged)",
            outcome.exit_code,
        )
