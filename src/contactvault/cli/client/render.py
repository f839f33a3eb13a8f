"""Rich renderings of API objects and unlock results for people (``--json`` output lives with the commands)."""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from contactvault.cli.client.tables import Col, FitTable
from contactvault.client import (
    ContactItem,
    CreditBalance,
    DeliveredContact,
    EventDetail,
    EventItem,
    Page,
    Reconciliation,
    UnlockEstimate,
    UnlockResult,
    UnlockTask,
)
from contactvault.client.state import RunRecord

__all__ = [
    "EXPORT_HINT",
    "MAX_ROWS",
    "balance_table",
    "contact_table",
    "delivered_table",
    "estimate_table",
    "event_table",
    "events_table",
    "export_hint",
    "page_footer",
    "people_table",
    "plural",
    "reconciliation_line",
    "result_summary",
    "runs_table",
    "task_view",
]

# Long lists are cut here in tables; --json and `contactvault export` always carry everything.
MAX_ROWS = 20


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _s(value: object) -> str:
    return "" if value is None else str(value)


PLURALS = {"person": "people", "phone number": "phone numbers", "run": "runs"}


def plural(count: int | None, one: str) -> str:
    """'1 person', '3 people', '1 event', '2 events' (the count with thousands separators)."""
    word = one if count == 1 else PLURALS.get(one, f"{one}s")
    return f"{_n(count)} {word}"


def balance_table(balance: CreditBalance) -> Table:
    """The credit balance, bucket by bucket."""
    table = Table(title="Credits", title_justify="left")
    table.add_column("Bucket")
    table.add_column("Balance", justify="right")
    table.add_column("Granted", justify="right")
    table.add_row("Subscription", _n(balance.subscription_balance), _n(balance.subscription_amount))
    table.add_row("Add-on", _n(balance.addon_balance), _n(balance.addon_amount))
    table.add_row("Gift", _n(balance.gift_balance), _n(balance.gift_amount))
    if balance.reserved_balance:
        table.add_row("Held by running tasks", _n(balance.reserved_balance), "", style="dim")
    table.add_section()
    table.add_row(
        Text("Available now", style="bold"), Text(_n(balance.total_balance), style="bold"), _n(balance.total_amount)
    )
    return table


def events_table(events: Sequence[EventItem], title: str = "Events") -> FitTable:
    """Events, one a row."""
    table = FitTable(
        [
            Col("ID", "copy", "right"),
            Col("Name"),
            Col("Dates"),
            Col("City", "drop"),
            Col("Country"),
            Col("Exhibitors", "drop", "right"),
        ],
        title=title,
        record_noun="event",
    )
    for event in events:
        dates = " - ".join(d for d in (event.date_start, event.date_end) if d)
        table.add_row(event.id, _s(event.name), dates, _s(event.city), _s(event.country), _n(event.exhibitor_count))
    return table


def event_table(event: EventDetail) -> Table:
    """One event's details as a two-column table."""
    table = Table(show_header=False, title=_s(event.name), title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    rows = {
        "ID": event.id,
        "Dates": " - ".join(d for d in (event.date_start, event.date_end) if d),
        "Venue": event.venue,
        "Place": ", ".join(p for p in (event.city, event.country) if p),
        "Type": event.event_type,
        "People": _n(event.personnel_count),
        "Exhibitors": _n(event.exhibitor_count),
        "Topics": ", ".join(event.topics),
    }
    for key, value in rows.items():
        table.add_row(key, _s(value))
    return table


# The API's unlock states, in one vocabulary for both channels (the phone's "ready" means unlocked). An unlocked
# contact without a value was erased after the unlock (or put on the opt-out list): say so, not "ready".
STATE_WORDS = {"ready": "erased", "unlocked": "erased", "processing": "unlocking"}


def _address_cell(value: str | None, status: str | None) -> Text:
    if value:
        return Text(value)
    return Text(STATE_WORDS.get(status or "locked", status or "locked"), style="dim")


def _email_cell(person: ContactItem) -> Text:
    return _address_cell(person.email, person.contact_unlock_status)


def _phone_cell(person: ContactItem) -> Text:
    return _address_cell(person.phone, person.phone_unlock_status)


def people_table(people: Sequence[ContactItem], title: str = "People") -> FitTable:
    """People with their unlock state (the address itself once this account unlocked it)."""
    table = FitTable(
        [
            Col("ID", "copy", "right"),
            Col("Name"),
            Col("Title", "drop"),
            Col("Company", "drop"),
            Col("Email", "copy"),
            Col("Phone", "copy"),
        ],
        title=title,
        record_noun="person",
    )
    for person in people:
        table.add_row(
            person.id,
            _s(person.full_name),
            _s(person.title),
            _s(person.company_name),
            _email_cell(person),
            _phone_cell(person),
        )
    return table


def contact_table(person: ContactItem) -> Table:
    """One person as a two-column table."""
    table = Table(show_header=False, title=_s(person.full_name), title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    rows: dict[str, str | Text] = {
        "ID": person.id,
        "Title": _s(person.title),
        "Department": _s(person.department),
        "Seniority": _s(person.seniority_level),
        "Company": _s(person.company_name),
        "LinkedIn": _s(person.linkedin_url),
        "Source": ", ".join(person.source_type),
        "Events": _n(person.event_count),
        "Email": _email_cell(person),
        "Phone": _phone_cell(person),
    }
    for key, value in rows.items():
        table.add_row(key, value)
    return table


def page_footer(page: Page[Any], noun: str) -> Text:
    """'Page 1 of 3 (45 events); --page 2 for more.' (``noun`` in the singular: "event", "person")."""
    total_pages = page.total_pages or 0
    text = f"Page {page.page} of {total_pages} ({plural(page.total, noun)})"
    if page.next_page is not None:
        text += f"; --page {page.next_page} for more, or --all"
    return Text(text + ".", style="dim")


def estimate_table(estimate: UnlockEstimate) -> Table:
    """What an unlock is about to cost."""
    unit = "emails" if estimate.channel == "email" else "phone numbers"
    title = f"Estimate: unlock {unit} at event {estimate.event_id}"
    table = Table(show_header=False, title=title, title_justify="left", min_width=len(title))
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("To unlock", _n(estimate.count))
    table.add_row("Credits", _n(estimate.credits))
    if estimate.max_credits is not None:
        table.add_row("Credit cap (--max-credits)", _n(estimate.max_credits))
    table.add_row("Balance", _n(estimate.balance))
    after = Text(_n(estimate.balance_after), style="red" if not estimate.is_affordable else "")
    table.add_row("Balance after", after)
    if estimate.skipped:
        table.add_row("Skipped (no charge)", _n(len(estimate.skipped)))
    return table


def reconciliation_line(rec: Reconciliation | None, status: str | None = None) -> Text:
    """'Credits: before 10,000, after 9,670, charged 330, difference 0 ok'."""
    if rec is None and status == "nothing_to_unlock":
        return Text("Credits: nothing was submitted, so nothing was charged.", style="dim")
    if rec is None:
        return Text("Credits: not reconciled (the run did not finish).", style="yellow")
    verdict = Text(" ok", style="green") if rec.ok else Text(" MISMATCH", style="bold red")
    difference = f"{rec.difference:+,}" if rec.difference else "0"
    line = Text(
        f"Credits: before {_n(rec.before)}, after {_n(rec.after)}, charged {_n(rec.charged)}, difference {difference}"
    )
    return line + verdict


EXPORT_HINT = "`contactvault export` writes them all"


def export_hint(run_id: str | None, state_file: str | None) -> str:
    """A ``more`` note naming an export command that really finds a run's contacts (its state file included)."""
    command = "contactvault export"
    if run_id:
        command += f" --run {run_id}"
    if state_file:
        command += f" --state-file {shlex.quote(state_file)}"
    return f"`{command}` writes them all"


def delivered_table(contacts: Sequence[DeliveredContact], limit: int = MAX_ROWS, more: str = EXPORT_HINT) -> FitTable:
    """Delivered contacts (the first ``limit``); ``more`` says where the rest are."""
    channel = contacts[0].channel if contacts else "email"
    table = FitTable(
        [
            Col("ID", "copy", "right"),
            Col("Name"),
            Col("Title", "drop"),
            Col("Company", "drop"),
            Col("Email" if channel == "email" else "Phone", "copy"),
            Col("Verification"),
        ],
        title="Delivered",
        record_noun="person",
    )
    for contact in sorted(contacts, key=lambda c: by_id(c.personnel_id))[:limit]:
        check = contact.verification
        verified = f"{check.status} {check.score}" if check and check.status else ""
        table.add_row(
            contact.personnel_id,
            _s(contact.full_name),
            _s(contact.title),
            _s(contact.company_name),
            contact.value,
            verified,
        )
    if len(contacts) > limit:
        table.caption = f"... and {len(contacts) - limit:,} more: {more}"  # n > 0
    return table


def by_id(personnel_id: str) -> tuple[int, str]:
    """Sort key: numeric ids in numeric order (``"5"`` before ``"15"``)."""
    return (int(personnel_id), "") if personnel_id.isdigit() else (0, personnel_id)


def _ids(ids: Iterable[str], limit: int = 10) -> str:
    items = sorted(ids, key=by_id)
    shown = ", ".join(items[:limit])
    return shown + (f", ... (+{len(items) - limit})" if len(items) > limit else "")


def result_summary(result: UnlockResult, more: str = EXPORT_HINT) -> RenderableType:
    """Delivered / failed by errorCode / skipped with reason, then the reconciliation line.

    ``more`` says where the delivered contacts beyond the table's rows are (a hint that must be true where shown).
    """
    unit = "emails" if result.channel == "email" else "phone numbers"
    table = FitTable(
        [Col("Outcome"), Col("People", justify="right"), Col("Personnel ids")],
        title=f"Unlock {unit} at event {result.event_id}: {result.status}",
        record_noun="outcome",
    )
    table.add_row(
        Text("delivered", style="green"), _n(len(result.delivered)), _ids(c.personnel_id for c in result.delivered)
    )
    for code, people in sorted(result.failed.items()):
        by_code = Counter(p.error_code for p in people)
        label = code if set(by_code) == {code} else f"{code} ({', '.join(sorted(by_code))})"
        table.add_row(Text(f"failed: {label}", style="red"), _n(len(people)), _ids(p.personnel_id for p in people))
    reasons: dict[str, list[str]] = {}
    for skip in result.skipped:
        reasons.setdefault(skip.reason, []).append(skip.personnel_id)
    for reason, ids in sorted(reasons.items()):
        table.add_row(Text(f"skipped: {reason}", style="yellow"), _n(len(ids)), _ids(ids))
    parts: list[RenderableType] = [table]
    if result.delivered:
        parts.append(delivered_table(result.delivered, more=more))
    parts.append(reconciliation_line(result.reconciliation, result.status))
    if result.run_id:
        # Phone and email tasks are separate resources: say which, so `tasks show` is asked the right way.
        tasks = "phone tasks" if result.channel == "phone" else "tasks"
        parts.append(Text(f"Run {result.run_id}; {tasks} {', '.join(result.task_ids) or 'none'}.", style="dim"))
    return Group(*parts)


def task_view(task: UnlockTask) -> RenderableType:
    """A task's status line and its items."""
    counts = task.counts
    head = Text(f"Task {task.task_id}: {task.task_status}", style="bold")
    if counts is not None:
        head.append(
            f"\npending {counts.pending}, processing {counts.processing}, "
            f"unlocked {counts.unlocked}, failed {counts.failed}",
            style="",
        )
    if task.credits_held is not None:
        head.append(
            f"\nCredits: held {_n(task.credits_held)}, charged {_n(task.credits_charged)}, "
            f"released {_n(task.credits_released)}",
            style="dim",
        )
    table = FitTable(
        [
            Col("Personnel", "copy", "right"),
            Col("Status"),
            Col("Address", "copy"),
            Col("Error"),
            Col("Verification", "drop"),
            Col("Credits", "drop", "right"),
        ],
        record_noun="item",
    )
    for item in task.items:
        check = item.verification
        style = {"unlocked": "green", "failed": "red"}.get(item.status, "")
        table.add_row(
            item.personnel_id,
            Text(item.status, style=style),
            _s(item.address),
            _s(item.error_code),
            f"{check.status} {check.score}" if check and check.status else "",
            _n(item.credits_charged),
        )
    return Group(head, table)


def runs_table(rows: Sequence[tuple[RunRecord, UnlockResult]]) -> FitTable:
    """Runs recorded in the state file, newest first."""
    # Run ids are what `export --run` and `tasks resume --run` take: never cut them.
    table = FitTable(
        [
            Col("Run", "copy"),
            Col("Started", "drop"),
            Col("Event", "copy"),
            Col("Channel"),
            Col("Status"),
            Col("Delivered", justify="right"),
            Col("Failed", justify="right"),
            Col("Skipped", "drop", "right"),
            Col("Charged", justify="right"),
        ],
        title="Unlock runs",
        record_noun="run",
    )
    for run, result in rows:
        charged = result.reconciliation.charged if result.reconciliation else None
        style = "yellow" if run.status == "running" else ""
        table.add_row(
            run.run_id,
            run.created_at[:16].replace("T", " "),
            run.event_id,
            run.channel,
            Text(run.status, style=style),
            f"{_n(len(result.delivered))} of {_n(run.requested_count)}",
            _n(result.failed_count),
            _n(len(result.skipped)),
            _n(charged),
        )
    return table
