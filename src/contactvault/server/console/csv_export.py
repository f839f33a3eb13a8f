"""CSV exports as text, from the services' typed values: a task's people with their outcomes, and every contact
an account unlocked. Pure: no I/O, no request; ``pages/exports.py`` streams what this returns.

Every text cell goes through ``contactvault.csv_cells.safe_text`` (formula-injection guard); ids, counts and
credits are written as numbers. Text cells are quoted (``QUOTE_NONNUMERIC``), so a phone number keeps its
leading ``+`` inside quotes and numbers stay bare.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from contactvault.csv_cells import safe_text
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.tasks import ErrorCode, ItemStatus
from contactvault.server.services.task_history import PersonCard
from contactvault.server.services.unlocked_contacts import UnlockedView
from contactvault.server.services.unlocks import ItemView, TaskView

BOM = "\ufeff"


class PhoneNumber(str):
    """A phone column's value: a real phone number there keeps its leading ``+`` (quoted, not prefixed)."""

    __slots__ = ()


Cell = str | int | None

# Why an item failed, in words a spreadsheet reader understands (an unknown code is written as it is).
FAILURE_REASONS: dict[str, str] = {
    ErrorCode.UNRESOLVED: "no address found",
    ErrorCode.INELIGIBLE: "not eligible",
    ErrorCode.CREDIT_CAP_REACHED: "credit cap reached",
    ErrorCode.TASK_FAILED: "could not be completed",
    ErrorCode.TASK_NOT_FOUND: "task not found",
}

UNLOCKED_COLUMNS = (
    "person_id",
    "name",
    "title",
    "company",
    "channel",
    "contact",
    "source",
    "verification_status",
    "verification_score",
    "unlocked_at",
    "task_id",
)


def task_columns(channel: Channel) -> tuple[str, ...]:
    """The header of a task's export (the value column is named after the channel)."""
    return (
        "person_id",
        "name",
        "title",
        "company",
        "outcome",
        channel.value,
        "source",
        "verification_status",
        "verification_score",
        "credits_charged",
    )


def cell(value: Cell) -> Cell:
    """One cell: text made spreadsheet-safe, numbers as they are, nothing as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_text(value, phone_column=isinstance(value, PhoneNumber))
    return value


def encode(rows: Iterable[Sequence[Cell]]) -> str:
    """Rows as CSV text (RFC 4180 line ends), every cell through ``cell``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return buffer.getvalue()


def outcome(item: ItemView) -> str:
    """``unlocked`` (charged), ``already_unlocked`` (delivered free), ``failed: <reason>`` or ``in_progress``."""
    if item.status == ItemStatus.UNLOCKED:
        return "unlocked" if item.credits_charged > 0 else "already_unlocked"
    if item.status == ItemStatus.FAILED:
        code = item.error_code or "unknown"
        return f"failed: {FAILURE_REASONS.get(code, code)}"
    return "in_progress"


def _contact(channel: str, value: str | None) -> str | None:
    """A revealed value as its cell (a phone number marked as one)."""
    if value is None or channel != Channel.PHONE:
        return value
    return PhoneNumber(value)


def _card_cells(card: PersonCard | None) -> list[Cell]:
    if card is None:
        return [None, None, None]
    return [card.full_name, card.title, card.company_name]


def task_rows(view: TaskView, cards: Mapping[int, PersonCard]) -> list[list[Cell]]:
    """One row per person of the task, in submission order."""
    rows = []
    for item in view.items:
        check = item.verification
        rows.append(
            [
                item.personnel_id,
                *_card_cells(cards.get(item.personnel_id)),
                outcome(item),
                _contact(view.channel, item.value),
                item.source if item.value else None,
                check.status if check else None,
                check.score if check else None,
                item.credits_charged,
            ]
        )
    return rows


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def unlocked_rows(items: Iterable[UnlockedView], cards: Mapping[int, PersonCard]) -> list[list[Cell]]:
    """One row per (person, channel) unlocked, in the service's order."""
    rows = []
    for item in items:
        check = item.verification
        rows.append(
            [
                item.personnel_id,
                *_card_cells(cards.get(item.personnel_id)),
                item.channel,
                _contact(item.channel, item.value),
                item.source,
                check.status if check else None,
                check.score if check else None,
                _utc(item.unlocked_at),
                item.task_id,
            ]
        )
    return rows


def task_filename(task_id: int) -> str:
    """The download name of a task's export."""
    return f"contactvault-task-{task_id}.csv"


def unlocked_filename(today: datetime) -> str:
    """The download name of the everything-unlocked export."""
    return f"contactvault-unlocked-{today:%Y-%m-%d}.csv"
