"""Every table the CLI prints, rendered at 80 and 120 columns: no copyable value is ever cut.

Snapshot-style: each renderer is fed realistic data (long emails and phones, long ids) and printed on a
recording console of a fixed width. The check is on the text a person sees: every email, phone and id appears
whole on one line, no line is wider than the terminal, and every table line keeps its right border.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from rich.console import Console, RenderableType

from contactvault.cli.client import render
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
from contactvault.client._models import TaskCounts, UnlockTaskItem, Verification
from contactvault.client._results import FailedContact, SkippedContact
from contactvault.client.state import RunRecord
from tests.factories import email_of, phone_of

from .conftest import CLI

WIDTHS = (80, 120)
EMAILS = (
    "margaret.ross@kleincare.com",
    "david.ramos@patagoniarenewables.de",
    "isabella.evans@monarchconstruction.es",
    "alexandra.papadopoulou@internationalbusinessmachines.com",
)
PHONES = ("+49 30 1234 5678", "+1 (415) 555-0100 ext. 1234", "+44 20 7946 0958", "+33 1 23 45 67 89")
IDS = ("1000032", "12345678901234567890", "7", "1000099")
RUN_IDS = ("c594c77a372d43a39788cbd219e6d7de", "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
LINKEDIN = "https://www.linkedin.com/in/alexandra-papadopoulou-0123456789"
LEFT_EDGES = "│┃┏┡└┌├┢┗"
RIGHT_EDGES = "│┃┓┩┘┐┤┪┛"


def rendered(renderable: RenderableType, width: int) -> str:
    """What a terminal of ``width`` columns shows."""
    console = Console(width=width, record=True, file=None, force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(renderable)
    return capture.get()


def assert_whole(text: str, width: int, values: Sequence[str]) -> None:
    """No ellipsis, each value on one line, nothing wider than the terminal, every table row closed on the right."""
    lines = text.splitlines()
    assert "…" not in text, f"an ellipsis cut something:\n{text}"
    for line in lines:
        assert len(line) <= width, f"wider than {width}: {line!r}"
        if line[:1] in LEFT_EDGES:
            assert line.rstrip()[-1:] in RIGHT_EDGES, f"right border cut: {line!r}\n{text}"
    for value in values:
        assert any(value in line for line in lines), f"{value!r} is cut or missing at {width} columns:\n{text}"


def people() -> list[ContactItem]:
    return [
        ContactItem(
            id=pid,
            full_name=f"Alexandra Person {n}",
            title="Senior Vice President of Strategic Partnerships",
            company_name="International Business Machines Consulting Services",
            email=email,
            contact_unlock_status="unlocked",
            phone=phone,
            phone_unlock_status="unlocked",
            linkedin_url=LINKEDIN,
        )
        for n, (pid, email, phone) in enumerate(zip(IDS, EMAILS, PHONES, strict=True))
    ]


def delivered(channel: str) -> tuple[DeliveredContact, ...]:
    values = EMAILS if channel == "email" else PHONES
    return tuple(
        DeliveredContact(
            personnel_id=person.id,
            channel=channel,  # type: ignore[arg-type]
            event_id="100",
            value=value,
            full_name=person.full_name,
            title=person.title,
            company_name=person.company_name,
            verification=Verification(status="valid", score=97),
        )
        for person, value in zip(people(), values, strict=True)
    )


def result(channel: str) -> UnlockResult:
    return UnlockResult(
        event_id="100",
        channel=channel,  # type: ignore[arg-type]
        status="completed",
        run_id=RUN_IDS[0],
        delivered=delivered(channel),
        failed={"NO_CONTACT_FOUND": (FailedContact("55", "NO_CONTACT_FOUND", "9"),)},
        skipped=(SkippedContact("66", "already_unlocked"),),
        reconciliation=Reconciliation(before=10_000, after=9_940, charged=60),
        task_ids=("6570086715561338936",),
    )


def task() -> UnlockTask:
    items = [
        UnlockTaskItem(
            personnel_id=pid,
            status="unlocked",
            email=email,
            credits_charged=15,
            verification=Verification(status="valid", score=90),
        )
        for pid, email in zip(IDS, EMAILS, strict=True)
    ]
    items.append(UnlockTaskItem(personnel_id="55", status="failed", error_code="NO_CONTACT_FOUND", credits_charged=0))
    return UnlockTask(
        task_id="6570086715561338936", task_status="completed", items=items, counts=TaskCounts(unlocked=4, failed=1)
    )


def runs() -> list[tuple[RunRecord, UnlockResult]]:
    return [
        (
            RunRecord(
                run_id=run_id,
                event_id="12345678901234567890",
                channel="email",
                base_url="http://127.0.0.1:8000",
                status="running" if n else "finished",
                max_credits=None,
                balance_before=10_000,
                balance_after=9_940,
                requested_count=300,
                created_at="2026-11-30T03:22:57.816203Z",
                finished_at=None,
            ),
            result("email"),
        )
        for n, run_id in enumerate(RUN_IDS)
    ]


EVENT = EventDetail(
    id="12345678901234567890",
    name="Frankfurt International Automotive Suppliers Summit 2027",
    date_start="2027-06-12",
    date_end="2027-06-13",
    venue="Messe Frankfurt, Hall 11 and the Congress Center",
    city="Frankfurt am Main",
    country="Germany",
    event_type="Trade Show",
    personnel_count=51,
    exhibitor_count=2,
    topics=["Wealth Management", "Risk Management", "Fintech", "Automotive Supply Chains"],
)

# Every table the CLI prints, with the values in it that a person may copy.
TABLES: dict[str, tuple[RenderableType, Sequence[str]]] = {
    "credits": (render.balance_table(CreditBalance(total_balance=100_000, subscription_balance=100_000)), ()),
    "events list": (render.events_table([EventItem.model_validate(EVENT.model_dump())] * 3), (EVENT.id,)),
    "event": (render.event_table(EVENT), (EVENT.id,)),
    "people list": (render.people_table(people()), (*IDS, *EMAILS, *PHONES)),
    "people show": (render.contact_table(people()[3]), (EMAILS[3], PHONES[3], IDS[3], LINKEDIN)),
    "unlock estimate": (
        render.estimate_table(UnlockEstimate(event_id="100", channel="email", count=3, credits=45, balance=100_000)),
        (),
    ),
    "unlock result (email)": (render.result_summary(result("email")), (*IDS, *EMAILS, RUN_IDS[0])),
    "unlock result (phone)": (render.result_summary(result("phone")), (*IDS, *PHONES, "6570086715561338936")),
    "delivered (more than shown)": (render.delivered_table(delivered("email"), limit=2), ()),
    "tasks show": (render.task_view(task()), (*IDS, *EMAILS, "NO_CONTACT_FOUND", "6570086715561338936")),
    "tasks list": (render.runs_table(runs()), (*RUN_IDS, "12345678901234567890")),
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(TABLES))
def test_no_table_cuts_a_copyable_value(name: str, width: int) -> None:
    renderable, values = TABLES[name]
    assert_whole(rendered(renderable, width), width, values)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_folded_or_narrowed_table_says_so(width: int) -> None:
    text = rendered(render.people_table(people()), width)
    assert "Not shown at" in text or "One record per person" in text
    wide = rendered(render.people_table(people()), 400)
    assert "Not shown" not in wide
    assert "One record" not in wide


def test_columns_are_dropped_least_important_first_then_records() -> None:
    table = FitTable([Col("ID", "copy"), Col("Name"), Col("Title", "drop"), Col("Email", "copy")], title="T")
    table.add_row("1", "Ada Lovelace", "Countess of Lovelace", "ada@example.com")
    assert table.plan(200) == ([0, 1, 2, 3], [])
    assert table.plan(40) == ([0, 1, 3], ["Title"])
    assert table.plan(30) is None
    records = rendered(table, 30)
    assert "One record per row" in records
    assert "ada@example.com" in records


@pytest.mark.parametrize("width", WIDTHS)
def test_tasks_list_is_readable_at_80_and_120(width: int) -> None:
    text = rendered(render.runs_table(runs()), width)
    for word in ("Run", "Event", "Status", "Delivered", "Failed", "Charged", "finished", "running", "4 of 300"):
        assert word in text, f"{word!r} missing at {width} columns:\n{text}"


def test_page_footer_counts_in_the_singular_and_plural() -> None:
    one = Page[EventItem](items=[EventItem(id="1")], total=1, page=1, total_pages=1)
    assert "(1 event)" in render.page_footer(one, "event").plain
    many = Page[EventItem](items=[EventItem(id="1")], total=2, page=1, total_pages=1)
    assert "(2 events)" in render.page_footer(many, "event").plain
    assert "(1 person)" in render.page_footer(one, "person").plain
    assert "(2 people)" in render.page_footer(many, "person").plain


@pytest.mark.parametrize("width", WIDTHS)
def test_the_cli_itself_prints_whole_values_at_80_and_120_columns(
    connected: CLI, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    unlocked = connected("unlock", "--event", "100", "--ids", "1,2,3,10", "--yes")
    assert unlocked.exit_code == 4, unlocked.output
    emails = [email_of(i) for i in (1, 2, 3)]
    assert_whole(unlocked.stdout, width, emails)
    phone = connected("unlock", "--event", "100", "--ids", "3", "--phone", "--yes")
    assert_whole(phone.stdout, width, [phone_of(3)])
    (task_id,) = connected.json("tasks", "list")["runs"][0]["taskIds"]
    outputs = {
        "people list": (connected("people", "list", "--event", "100", "--page-size", "5"), [*emails, phone_of(3)]),
        "people show": (connected("people", "show", "3"), [email_of(3), phone_of(3)]),
        "tasks show": (connected("tasks", "show", task_id, "--phone"), [phone_of(3), task_id]),
        "tasks list": (connected("tasks", "list"), []),
    }
    for name, (result, values) in outputs.items():
        assert result.exit_code == 0, (name, result.output)
        assert_whole(result.stdout, width, values)
