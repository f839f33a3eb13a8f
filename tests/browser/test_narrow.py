"""At phone width: a table wider than the screen scrolls sideways in its box, and the keyboard can scroll it too."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, NARROW, axe_clean, snap, tab_to


def test_a_wide_table_can_be_scrolled_with_the_keyboard_at_phone_width(
    new_context: Any, signed_in_state: dict[str, Any]
) -> None:
    page: Page = new_context(storage_state=signed_in_state).new_page()
    page.set_viewport_size(NARROW)
    page.goto("/console/events/100/people")
    box = page.locator(".table-wrap").first
    expect(box).to_have_attribute("tabindex", "0")  # it overflows: a tab stop, named by its table's caption
    expect(box).to_have_attribute("role", "region")
    expect(box).to_have_attribute("aria-label", re.compile(r"^250 people, page 1 of 10"))
    axe_clean(page)  # axe's scrollable-region-focusable rule holds
    snap(page, "narrow", "people")

    tab_to(page, box)
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("box => box.scrollLeft > 0", arg=box.element_handle(), timeout=10_000)

    page.set_viewport_size(DESKTOP)  # wide enough: the box fits and leaves the tab order
    expect(box).not_to_have_attribute("tabindex", "0")
    expect(box).not_to_have_attribute("role", "region")
