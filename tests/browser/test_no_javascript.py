"""The console without JavaScript: plain forms and links do the work that htmx only speeds up."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect


def test_searching_events_works_without_javascript(new_context: Any, signed_in_state: dict[str, Any]) -> None:
    page: Page = new_context(java_script_enabled=False, storage_state=signed_in_state).new_page()
    page.goto("/console/events")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)

    page.get_by_label("Name").fill("lisbon")
    page.get_by_role("button", name="Search").click()

    expect(page).to_have_url(re.compile(r"/console/events\?q=lisbon"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Lisbon Partner Summit")
    expect(page.get_by_role("heading", level=1, name="Events")).to_be_visible()  # a whole page, not a fragment
