"""``contactvault export``: the delivered contacts kept in the local state file, as CSV or JSON Lines.

Each contact appears exactly once per channel (the state file keys contacts by person and channel). The output
holds addresses, so a file is created with mode 600. Free-text cells that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, TAB, CR or LF: ``contactvault.csv_cells``, the rule the console's exports
use too) get a leading apostrophe in CSV; addresses and ids are never altered.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from contactvault.cli.client.common import ApiKeyOpt, BaseUrlOpt, StateFileOpt, digits, err, handled_errors
from contactvault.cli.client.erasures import forget_erased
from contactvault.cli.client.render import by_id, plural
from contactvault.cli.common import EXIT_USAGE, emit, fail
from contactvault.client import Channel, DeliveredContact, StateStore
from contactvault.client.config import default_state_path, write_private_file
from contactvault.csv_cells import safe_text

__all__ = ["ExportFormat", "export", "export_rows", "fields_for", "render", "write_private"]

TEXT_FIELDS = ("full_name", "title", "company_name")


class ExportFormat(enum.StrEnum):
    """The file formats ``export`` writes."""

    CSV = "csv"
    JSONL = "jsonl"


def fields_for(channel: str) -> tuple[str, ...]:
    """The exported columns, in order, for a channel."""
    return (
        "personnel_id",
        "full_name",
        "title",
        "company_name",
        channel,
        "source",
        "verification_status",
        "verification_score",
        "unlocked_at",
        "event_id",
    )


def export_rows(contacts: Sequence[DeliveredContact], channel: str) -> list[dict[str, Any]]:
    """One flat record per contact."""
    rows = []
    for contact in contacts:
        check = contact.verification
        rows.append(
            {
                "personnel_id": contact.personnel_id,
                "full_name": contact.full_name,
                "title": contact.title,
                "company_name": contact.company_name,
                channel: contact.value,
                "source": contact.source,
                "verification_status": check.status if check else None,
                "verification_score": check.score if check else None,
                "unlocked_at": contact.unlocked_at,
                "event_id": contact.event_id,
            }
        )
    return rows


def _cell(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if name in TEXT_FIELDS and isinstance(value, str):
        return safe_text(value)
    return value


def render(rows: Sequence[dict[str, Any]], channel: str, fmt: ExportFormat) -> str:
    """The whole export as text."""
    if fmt is ExportFormat.JSONL:
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields_for(channel), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: _cell(name, value) for name, value in row.items()})
    return buffer.getvalue()


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as a new file of mode 600 (an existing file is replaced, not reused)."""
    write_private_file(path, text)


def run_channel(store: StateStore, run_id: str, *, phone: bool) -> Channel:
    """The channel a run unlocked (an unknown run is an error, as in ``tasks resume --run``)."""
    run = store.get_run(run_id)  # StateError: "no run X in <file>", exit 1
    if phone and run.channel != "phone":
        fail(f"run {run_id} unlocked {run.channel}s; drop --phone", EXIT_USAGE)
    return run.channel


def export(
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv or jsonl.")] = ExportFormat.CSV,
    event: Annotated[str | None, typer.Option("--event", "-e", help="Only contacts unlocked for this event.")] = None,
    phone: Annotated[bool, typer.Option("--phone", help="Phone numbers instead of emails.")] = False,
    run_id: Annotated[str | None, typer.Option("--run", help="Only contacts delivered by this run.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (mode 600) instead of stdout.", dir_okay=False)
    ] = None,
    state_file: StateFileOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="With --output: print a JSON summary on stdout.")] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not ask the server which contacts were erased since.")
    ] = False,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Export delivered contacts from the local state file, each exactly once.

    With --run, the run's channel is exported (--phone is not needed for a phone run); an unknown run is an error.
    First asks the server which of them were erased or opted out since, and drops those from the state file
    (skipped with --offline, or when no key or server is at hand: it says so).
    """
    if json_output and output is None:
        fail("--json prints a summary and needs --output; for JSON data use --format jsonl", EXIT_USAGE)
    event_id = digits(event, "--event") if event is not None else None
    channel: Channel = "phone" if phone else "email"
    path = Path(state_file).expanduser() if state_file else default_state_path()
    contacts: list[DeliveredContact] = []
    if path.exists() and not offline:
        err().print(forget_erased(path, base_url, api_key), style="dim", markup=False)
    if path.exists():
        with handled_errors(), StateStore(path) as store:
            if run_id is not None:
                channel = run_channel(store, run_id, phone=phone)
            contacts = store.delivered_contacts(event_id=event_id, channel=channel, run_id=run_id)
        contacts.sort(key=lambda c: (c.unlocked_at or "", by_id(c.personnel_id)))
    elif run_id is not None:
        fail(f"no run {run_id}: there is no state file at {path}")
    else:
        err().print(f"No state file at {path}: nothing has been unlocked from here yet.", style="yellow")
    text = render(export_rows(contacts, channel), channel, fmt)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        write_private(output, text)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    if json_output:
        emit({"path": str(output), "format": fmt.value, "channel": channel, "count": len(contacts)})
    else:
        err().print(f"Exported {plural(len(contacts), channel + ' contact')} to {output}.")
