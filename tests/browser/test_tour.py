"""A tour of the console for review, one step after another as a new user meets them: sign-in (empty, wrong key),
Home, events found by a search, an event's people filtered and selected with the estimate bar, the confirm page
(not enough credits, then a normal one), the task running and done with a failed row, the history and the account.

``make screenshots`` runs it at desktop and phone width; every step is checked as well as photographed, and axe
checks each page.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_clean, sign_in, snap
from tests.browser.live import MISSING_EMAIL, LiveServer, person_name

FLOW = "tour"
CREDITS = 300


def test_a_tour_of_the_console(page: Page, live: LiveServer) -> None:
    account = live.new_account(CREDITS)
    page.goto("/console")
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    snap(page, FLOW, "sign-in")
    sign_in(page, "sk_wrong_key")
    expect(page.get_by_role("alert")).to_be_visible()
    snap(page, FLOW, "sign-in-error")
    sign_in(page, account.api_key)
    expect(page.get_by_test_id("balance-available")).to_have_text("300")
    snap(page, FLOW, "home")

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Events").click()
    page.get_by_label("Name").fill("berlin")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    axe_clean(page)
    snap(page, FLOW, "events-search")

    page.get_by_role("link", name="Berlin Retail Expo 2026").click()
    page.get_by_label("Title or name").fill("partnerships")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("caption")).to_contain_text("50 people matching the filters, page 1 of 2")
    estimate = page.get_by_test_id("estimate")

    # All 25 on the page cost more than the account has: the bar says so, and so does the confirm page.
    page.get_by_label("Select all on this page").check()
    expect(estimate.get_by_test_id("selected-count")).to_have_text("25")
    expect(estimate).to_contain_text("Not enough credits")
    snap(page, FLOW, "people-over-balance")
    page.get_by_role("button", name="Review and unlock").click()
    expect(page.get_by_test_id("insufficient")).to_contain_text("needs 375 credits, you have 300 available")
    axe_clean(page)
    snap(page, FLOW, "confirm-insufficient")

    # Back to the filtered list, and a smaller selection: twelve people, one of whom has no email anywhere.
    page.go_back()
    expect(page.locator("caption")).to_contain_text("50 people matching the filters")
    page.get_by_label("Select all on this page").uncheck()
    expect(estimate.get_by_test_id("selected-count")).to_have_text("0")
    for box in page.locator("tbody").get_by_role("checkbox").all()[:12]:
        box.check()
    expect(estimate.get_by_test_id("selected-count")).to_have_text("12")
    expect(estimate.get_by_test_id("credits")).to_have_text("180")
    expect(estimate.get_by_test_id("balance-after")).to_have_text("120")
    axe_clean(page)
    snap(page, FLOW, "people-selection")

    page.get_by_role("button", name="Review and unlock").click()
    expect(page.get_by_test_id("credits")).to_have_text("180")
    axe_clean(page)
    snap(page, FLOW, "confirm")
    page.get_by_role("button", name="Confirm and unlock 12 people for 180 credits").click()

    expect(page).to_have_url(re.compile(r"/console/unlocks/\d+$"))
    counts = page.get_by_test_id("counts")
    expect(counts).to_contain_text("0 of 12 processed")
    live.work.step()  # one batch of 10
    expect(counts).to_contain_text("10 of 12 processed")
    axe_clean(page)
    snap(page, FLOW, "task-running")
    live.work.finish()
    expect(counts).to_have_text("12 of 12 processed · 11 unlocked · 0 already unlocked (free) · 1 failed")
    failed = page.get_by_role("row", name=re.compile(re.escape(person_name(MISSING_EMAIL))))
    expect(failed).to_contain_text("Failed")
    axe_clean(page)
    snap(page, FLOW, "task-done-with-a-failed-row")

    nav.get_by_role("link", name="Unlocks").click()
    expect(page.get_by_role("heading", level=1, name="Unlocks")).to_be_visible()
    axe_clean(page)
    snap(page, FLOW, "history")

    nav.get_by_role("link", name="Account").click()
    expect(page.get_by_test_id("balance-available")).to_have_text(f"{CREDITS - 11 * 15:,}")
    axe_clean(page)
    snap(page, FLOW, "account")
