"""Unlocking in a real browser: confirm with a quote, watch the task to the end, read the outcomes; and the money
guards (a double click, a price change, not enough credits)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from contactvault.server.db.tables import tasks
from contactvault.server.domain.ledger import Channel
from contactvault.server.services import credits, unlocks
from tests.browser.conftest import axe_clean, sign_in, snap
from tests.browser.live import EMAIL_PRICE, MISSING_EMAIL, LiveServer, person_name
from tests.factories import BIG_EVENT, Account, email_of

TASK_URL = re.compile(r"/console/unlocks/\d+$")


def confirm_url(ids: list[int]) -> str:
    """The confirm page for a selection at the big event (what the people page's "Review and unlock" sends)."""
    return "/console/unlocks/new?" + urlencode([("event_id", BIG_EVENT), *(("selected", i) for i in ids)])


def balance(live: LiveServer, account: Account) -> int:
    """What the account can spend now."""
    return credits.balance(live.rt, account.id).total_balance


def tasks_of(live: LiveServer, account: Account) -> int:
    """How many unlock tasks the account has."""
    with live.rt.db.read() as conn:
        query = select(func.count()).select_from(tasks).where(tasks.c.account_id == account.id)
        return int(conn.execute(query).scalar_one())


def unlock_elsewhere(live: LiveServer, account: Account, ids: list[int]) -> None:
    """The same account unlocks people from somewhere else (another tab, the API) meanwhile."""
    request = unlocks.UnlockRequest(account.id, Channel.EMAIL, str(BIG_EVENT), [str(i) for i in ids])
    assert unlocks.submit(live.rt, request).task_id is not None


def test_confirm_watch_progress_to_completion_and_read_per_person_outcomes(
    account_page: Callable[[int], tuple[Page, Account]], live: LiveServer
) -> None:
    page, account = account_page(10_000)
    people = [*range(31, 46), MISSING_EMAIL]  # 15 people with a work email, and one without
    page.goto(confirm_url(people))
    expect(page.get_by_role("heading", level=1, name="Confirm unlock")).to_be_visible()
    expect(page.get_by_test_id("credits")).to_have_text("240")
    expect(page.get_by_test_id("balance-after")).to_have_text("9,760")
    expect(page.get_by_role("row", name=re.compile(person_name(31)))).to_contain_text("Will be unlocked")
    axe_clean(page)
    snap(page, "unlock", "confirm")

    page.get_by_role("button", name="Confirm and unlock 16 people for 240 credits").click()

    expect(page).to_have_url(TASK_URL)
    progress = page.get_by_test_id("counts")
    expect(progress).to_contain_text("0 of 16 processed")
    expect(page.get_by_test_id("held")).to_have_text("240")
    assert balance(live, account) == 10_000 - 240  # held, not yet charged
    axe_clean(page)
    snap(page, "unlock", "task-running")

    live.work.step()  # one batch of 10: the page updates by itself
    expect(progress).to_contain_text("10 of 16 processed")
    live.work.finish()

    expect(progress).to_have_text("16 of 16 processed · 15 unlocked · 0 already unlocked (free) · 1 failed")
    expect(page.locator("#status")).to_have_text("Unlock finished: 15 unlocked, 1 failed")
    expect(page.get_by_test_id("finished")).to_be_visible()
    expect(page.get_by_test_id("charged")).to_have_text("225")
    expect(page.get_by_test_id("released")).to_have_text("15")
    delivered = page.get_by_role("row", name=re.compile(person_name(31)))
    expect(delivered).to_contain_text("Unlocked")
    expect(delivered).to_contain_text(email_of(31))
    failed = page.get_by_role("row", name=re.compile(person_name(MISSING_EMAIL)))
    expect(failed).to_contain_text("Failed")
    expect(failed).to_contain_text("No deliverable address was found.")
    axe_clean(page)
    snap(page, "unlock", "task-done")

    page.get_by_role("link", name="Home", exact=True).click()
    newly_delivered = 15
    expect(page.get_by_test_id("balance-available")).to_have_text(f"{10_000 - EMAIL_PRICE * newly_delivered:,}")
    assert balance(live, account) == 10_000 - EMAIL_PRICE * newly_delivered


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_a_double_click_on_confirm_creates_one_task(new_context: Any, live: LiveServer, javascript: bool) -> None:
    account = live.new_account(1_000)
    page: Page = new_context(java_script_enabled=javascript).new_page()
    sign_in(page, account.api_key)
    expect(page.get_by_role("heading", level=1, name="Home")).to_be_visible()
    page.goto(confirm_url([51, 52, 53]))

    page.get_by_role("button", name="Confirm and unlock 3 people for 45 credits").dblclick()

    expect(page).to_have_url(TASK_URL)
    expect(page.get_by_test_id("held")).to_have_text("45")
    assert tasks_of(live, account) == 1
    assert balance(live, account) == 1_000 - 45

    live.work.finish()
    if not javascript:  # without JavaScript the page does not update itself: the Refresh link shows the end
        page.get_by_role("link", name="Refresh").click()
    expect(page.get_by_test_id("counts")).to_contain_text("3 of 3 processed")
    expect(page.get_by_role("link", name="Refresh")).to_have_count(0)


def test_a_price_change_between_render_and_confirm_charges_nothing_and_says_so(
    account_page: Callable[[int], tuple[Page, Account]], live: LiveServer
) -> None:
    page, account = account_page(1_000)
    page.goto(confirm_url([61, 62, 63]))
    expect(page.get_by_test_id("credits")).to_have_text("45")
    unlock_elsewhere(live, account, [62])  # meanwhile, person 62 is unlocked from another tab
    before = balance(live, account)

    page.get_by_role("button", name="Confirm and unlock 3 people for 45 credits").click()

    expect(page.get_by_role("heading", level=1, name="The price changed")).to_be_focused()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was charged and no credits were held.")
    expect(page.get_by_test_id("quoted")).to_have_text("45")
    expect(page.get_by_test_id("now")).to_have_text("30")
    assert balance(live, account) == before
    assert tasks_of(live, account) == 1  # only the other tab's
    axe_clean(page)
    snap(page, "unlock", "price-changed")

    page.get_by_role("button", name="Review again").click()
    expect(page.get_by_role("button", name="Confirm and unlock 2 people for 30 credits")).to_be_visible()


def test_not_enough_credits_is_shown_with_the_numbers_and_creates_no_task(
    account_page: Callable[[int], tuple[Page, Account]], live: LiveServer
) -> None:
    page, account = account_page(600)
    page.goto(confirm_url(list(range(101, 201))))
    expect(page.get_by_test_id("insufficient")).to_contain_text("needs 1,500 credits, you have 600 available")
    expect(page.get_by_role("button", name=re.compile("Confirm and unlock"))).to_have_count(0)
    axe_clean(page)
    snap(page, "unlock", "insufficient")

    # Enough at the estimate, not at the click: the balance dropped in between (402, nothing held, no task).
    page.goto(confirm_url([201, 202, 203]))
    unlock_elsewhere(live, account, list(range(211, 249)))  # 38 people: 570 of the 600 credits held elsewhere
    page.get_by_role("button", name="Confirm and unlock 3 people for 45 credits").click()

    expect(page.get_by_role("heading", level=1, name="Not enough credits")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("needs 45 credits, you have 30 available")
    assert tasks_of(live, account) == 1
    assert balance(live, account) == 30


def test_the_unlock_is_confirmed_with_the_keyboard_alone(
    account_page: Callable[[int], tuple[Page, Account]], live: LiveServer
) -> None:
    page, account = account_page(1_000)
    page.goto(confirm_url([71, 72]))
    button = page.get_by_role("button", name="Confirm and unlock 2 people for 30 credits")
    for _ in range(40):  # Tab through the page (skip link, navigation, ...) until the button has the focus
        page.keyboard.press("Tab")
        if button.evaluate("element => element === document.activeElement"):
            break
    expect(button).to_be_focused()

    page.keyboard.press("Enter")

    expect(page).to_have_url(TASK_URL)
    assert tasks_of(live, account) == 1
    live.work.finish()  # (and no long-poll is left waiting when the test ends)
    expect(page.get_by_test_id("finished")).to_be_visible()
