"""The unlock flow with the keyboard only: Tab to move, type, Space to tick, Enter to act; no mouse at all."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_clean, tab_to
from tests.factories import Account


def test_the_unlock_flow_can_be_done_with_the_keyboard_alone(
    account_page: Callable[[int], tuple[Page, Account]],
) -> None:
    page, _ = account_page(1_000)
    page.goto("/console/events/100/people")
    expect(page.get_by_role("heading", level=1)).to_contain_text("People at Berlin Retail Expo 2026")

    # Filters: Tab to the title field, type, Enter applies them.
    title = page.get_by_label("Title or name")
    tab_to(page, title)
    page.keyboard.type("partnerships")
    page.keyboard.press("Enter")
    expect(page.locator("caption")).to_contain_text("matching the filters")
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("VP of Partnerships")

    # Tick two people with Space: the estimate follows.
    for row in (rows.nth(1), rows.nth(2)):
        box = row.get_by_role("checkbox")
        tab_to(page, box)
        page.keyboard.press("Space")
        expect(box).to_be_checked()
    estimate = page.get_by_test_id("estimate")
    expect(estimate.get_by_test_id("selected-count")).to_have_text("2")
    expect(estimate.get_by_test_id("credits")).to_have_text("30")

    # Review, then confirm, with Enter.
    tab_to(page, page.get_by_role("button", name="Review and unlock"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Confirm unlock")).to_be_visible()
    tab_to(page, page.get_by_role("button", name="Confirm and unlock 2 people for 30 credits"))
    page.keyboard.press("Enter")

    # The task page: the focus is on its heading, so a screen reader starts there.
    expect(page).to_have_url(re.compile(r"/console/unlocks/\d+$"))
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("unlock")
    expect(heading).to_be_focused()
    axe_clean(page)
