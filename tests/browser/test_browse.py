"""Browsing in a real browser: searching events as you type, and picking people across pages with the estimate bar
following every tick."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from contactvault.server.services import credits
from tests.browser.conftest import axe_clean, snap
from tests.browser.live import ALREADY_UNLOCKED, START_BALANCE, LiveServer
from tests.factories import BIG_EVENT

EMAIL_PRICE = 15


def test_browse_and_search_events(signed_in_page: Page) -> None:
    page = signed_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").click()
    expect(page.get_by_role("heading", level=1, name="Events")).to_be_visible()
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(3)
    page.wait_for_load_state("load")  # htmx starts once the page has loaded: only then does typing search
    snap(page, "browse", "events")
    axe_clean(page)

    # The table narrows as you type, and the address bar follows.
    page.get_by_label("Name").press_sequentially("nordic", delay=30)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Nordic SaaS Forum")
    expect(page).to_have_url(re.compile(r"/console/events\?q=nordic"))
    expect(page.locator("#status")).to_have_text("1 event matches")
    snap(page, "browse", "events-search")

    # Back restores the unfiltered list (htmx re-fetches the whole page).
    page.go_back()
    expect(page).to_have_url(re.compile(r"/console/events$"))
    expect(rows).to_have_count(3)
    expect(page.get_by_role("heading", level=1, name="Events")).to_have_count(1)

    # Pagination: two a page.
    page.goto("/console/events?size=2")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("navigation", name="Pages of events")).to_contain_text("Page 1 of 2")
    page.get_by_role("link", name="Next →").click()
    expect(rows).to_have_count(1)
    expect(page.get_by_role("navigation", name="Pages of events")).to_contain_text("Page 2 of 2")
    # Typing only searches once htmx has started on this new page (it starts when the page has loaded).
    page.wait_for_load_state("load")

    # A search that finds nothing says what to do next.
    page.get_by_label("Name").fill("atlantis")
    expect(page.locator("#results")).to_contain_text("No events match this search")
    page.locator("#results").get_by_role("link", name="clear the search").click()
    expect(rows).to_have_count(3)


def test_filter_and_select_30_people_across_two_pages(signed_in_page: Page, live: LiveServer) -> None:
    page = signed_in_page
    page.goto("/console/events")
    page.get_by_role("link", name="Berlin Retail Expo 2026").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("People at Berlin Retail Expo 2026")

    # Northwind's people are the even ids: page 1 holds 2..50, among them the three already unlocked.
    page.get_by_label("Company").fill("Northwind")
    page.get_by_label("Company").press("Enter")
    expect(page.locator("caption")).to_contain_text("125 people matching the filters, page 1 of 5")
    for pid in ALREADY_UNLOCKED:
        expect(page.locator(f"#sel-{pid}").locator("xpath=ancestor::tr")).to_contain_text("Unlocked — free")

    count = page.get_by_test_id("selected-count")
    page.wait_for_load_state("load")  # htmx sends the estimate on a tick once it has started on this page
    page.get_by_label("Select all on this page").check()
    expect(count).to_have_text("25")
    expect(page.get_by_test_id("free")).to_have_text(str(len(ALREADY_UNLOCKED)))

    page.get_by_role("button", name="Next →").click()
    expect(page.locator("caption")).to_contain_text("page 2 of 5")
    expect(count).to_have_text("25")  # the selection came along
    page.wait_for_load_state("load")
    rows = page.locator("tbody input[type=checkbox][name=selected]")
    for index in range(5):
        rows.nth(index).check()
    expect(count).to_have_text("30")
    chargeable = 30 - len(ALREADY_UNLOCKED)
    expect(page.get_by_test_id("chargeable")).to_have_text(str(chargeable))
    expect(page.get_by_test_id("credits")).to_have_text(f"{chargeable * EMAIL_PRICE:,}")
    expect(page.get_by_test_id("balance-after")).to_have_text(f"{START_BALANCE - chargeable * EMAIL_PRICE:,}")
    snap(page, "browse", "people-selected")
    axe_clean(page)

    # Unticking lowers it; back on page 1 the ticks are still there.
    rows.nth(0).uncheck()
    expect(count).to_have_text("29")
    page.get_by_role("button", name="← Previous").click()
    expect(page.locator("caption")).to_contain_text("page 1 of 5")
    expect(page.locator("tbody input[type=checkbox][name=selected]:checked")).to_have_count(25)
    expect(count).to_have_text("29")

    # "Review and unlock" hands the event and the selection to the confirm page.
    page.get_by_role("button", name="Review and unlock").click()
    page.wait_for_url(re.compile(r"/console/unlocks/new\?"))
    query = parse_qs(urlsplit(page.url).query)
    assert query["event_id"] == [str(BIG_EVENT)]
    assert len(query["selected"]) == 29
    assert credits.balance(live.rt, live.account.id).total_balance == START_BALANCE  # browsing charged nothing
