"""The unlock history and its CSV exports in a real browser: download a task's CSV and the everything-unlocked
CSV for Excel, and read them the way a spreadsheet would."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

from contactvault.server.domain.ledger import Channel
from contactvault.server.services import unlocks
from tests.browser.conftest import axe_clean, snap
from tests.browser.live import FORMULA_NAME, FORMULA_PERSON, MISSING_EMAIL, LiveServer, person_name
from tests.factories import BIG_EVENT, Account, email_of

BOM = "\ufeff"
PEOPLE = [FORMULA_PERSON, 8, 9, MISSING_EMAIL]


def _unlock_and_finish(live: LiveServer, account: Account) -> int:
    """An email unlock of ``PEOPLE`` for the account, run to completion by the worker; its task id."""
    result = unlocks.submit(
        live.rt,
        unlocks.UnlockRequest(
            account_id=account.id,
            channel=Channel.EMAIL,
            event_id=str(BIG_EVENT),
            personnel_ids=[str(p) for p in PEOPLE],
        ),
    )
    assert result.task_id is not None
    live.work.finish()
    return result.task_id


def _download(page: Page, link: Locator) -> tuple[str, str]:
    """Click a download link; the file's suggested name and its text (BOM kept)."""
    with page.expect_download() as info:
        link.click()
    download = info.value
    path = download.path()
    return download.suggested_filename, path.read_bytes().decode("utf-8")


def test_export_a_task_and_everything_unlocked_and_read_them_back(
    account_page: Callable[[int], tuple[Page, Account]], live: LiveServer
) -> None:
    page, account = account_page(1_000)
    task_id = _unlock_and_finish(live, account)

    page.reload()  # Home, now with the finished unlock among the recent ones
    expect(page.get_by_test_id("recent-unlocks").locator(f"tr[data-task-id='{task_id}']")).to_be_visible()
    axe_clean(page)
    snap(page, "exports", "home-recent")
    page.get_by_role("link", name="See all unlocks and export them").click()
    expect(page.get_by_role("heading", level=1, name="Unlocks")).to_be_visible()
    row = page.locator(f"tr[data-task-id='{task_id}']")
    expect(row.locator("td[data-col=unlocked]")).to_have_text("3")
    expect(row.locator("td[data-col=failed]")).to_have_text("1")
    expect(row.locator("td[data-col=charged]")).to_have_text("45")
    expect(row).to_contain_text("Finished, 1 failed")
    axe_clean(page)
    snap(page, "exports", "history")

    name, text = _download(page, row.get_by_role("link", name=re.compile(r"^CSV of the unlock of ")))
    assert name == f"contactvault-task-{task_id}.csv"
    assert not text.startswith(BOM)
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[:6] == ["person_id", "name", "title", "company", "outcome", "email"]
    by_person = {int(r[0]): r for r in rows}
    assert list(by_person) == PEOPLE
    assert by_person[FORMULA_PERSON][1] == "'" + FORMULA_NAME  # a spreadsheet shows it, never runs it
    assert by_person[8][1] == person_name(8)
    assert [by_person[p][4] for p in PEOPLE] == ["unlocked", "unlocked", "unlocked", "failed: no address found"]
    assert [by_person[p][5] for p in PEOPLE] == [email_of(7), email_of(8), email_of(9), ""]
    charged = header.index("credits_charged")
    assert [by_person[p][charged] for p in PEOPLE] == ["15", "15", "15", "0"]

    name, text = _download(page, page.get_by_role("button", name="CSV for Excel"))
    assert name.startswith("contactvault-unlocked-")
    assert text.startswith(BOM)
    header, *rows = list(csv.reader(io.StringIO(text.removeprefix(BOM))))
    assert header[:6] == ["person_id", "name", "title", "company", "channel", "contact"]
    assert sorted((int(r[0]), r[5]) for r in rows) == [(p, email_of(p)) for p in (7, 8, 9)]


def test_the_status_filter_narrows_the_history_and_moves_focus_to_the_results(
    account_page: Callable[[int], tuple[Page, Account]], live: LiveServer
) -> None:
    page, account = account_page(1_000)
    done = _unlock_and_finish(live, account)
    running = unlocks.submit(
        live.rt,
        unlocks.UnlockRequest(
            account_id=account.id, channel=Channel.EMAIL, event_id=str(BIG_EVENT), personnel_ids=["11", "12"]
        ),
    ).task_id

    page.goto("/console/unlocks")
    expect(page.locator("tr[data-task-id]")).to_have_count(2)
    page.get_by_label("Running").check()

    expect(page).to_have_url(re.compile(r"/console/unlocks\?status=running$"))
    expect(page.get_by_role("heading", name="Running unlocks")).to_be_focused()
    expect(page.locator("tr[data-task-id]")).to_have_count(1)
    expect(page.locator(f"tr[data-task-id='{running}']")).to_contain_text("Waiting")
    expect(page.locator("#status")).to_have_text("1 unlock shown")
    axe_clean(page)
    snap(page, "exports", "history-running")

    page.go_back()
    expect(page.locator(f"tr[data-task-id='{done}']")).to_be_visible()
    live.work.finish()
