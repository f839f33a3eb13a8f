"""Signing in and out of the console in a real browser, with and without JavaScript."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_clean, sign_in, snap
from tests.browser.live import START_BALANCE, LiveServer

COOKIE = "__Host-cv_session"
HOME = re.compile(r"/console$")
SIGN_IN = re.compile(r"/console/sign-in")


def session_cookies(page: Page) -> list[Any]:
    """The console session cookies the browser holds."""
    return [c for c in page.context.cookies() if c["name"] == COOKIE]


def test_a_wrong_key_shows_an_error_and_sets_no_cookie(page: Page, live: LiveServer) -> None:
    page.goto("/console")
    expect(page).to_have_url(SIGN_IN)  # no session: the console sends you to sign in
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    axe_clean(page)
    snap(page, "sign-in", "empty")

    sign_in(page, live.account.api_key[:-3] + "xyz")

    expect(page.get_by_role("alert")).to_contain_text("That API key was not accepted")
    expect(page.get_by_label("API key")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(SIGN_IN)
    assert session_cookies(page) == []
    axe_clean(page)
    snap(page, "sign-in", "error")


def test_the_right_key_lands_on_home_and_signing_out_leaves_nothing_behind(page: Page, live: LiveServer) -> None:
    sign_in(page, live.account.api_key)

    expect(page).to_have_url(HOME)
    expect(page.get_by_role("heading", level=1, name="Home")).to_be_visible()
    expect(page.get_by_test_id("balance-available")).to_have_text(f"{START_BALANCE:,}")
    assert len(session_cookies(page)) == 1
    home = page.reload()
    # The guard's routing turns the browser's HTTP cache off, so that no-store is asserted here, on the header.
    assert home is not None
    assert home.headers["cache-control"] == "no-store"
    axe_clean(page)
    snap(page, "sign-in", "home")

    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(SIGN_IN)
    assert session_cookies(page) == []
    page.go_back()
    # Home is no-store, so Back asks the server again, which has ended the session: sign in, no balance.
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=/console$"))
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("balance-available")).to_have_count(0)
    page.goto("/console")
    expect(page).to_have_url(SIGN_IN)


def test_after_signing_in_the_focus_is_on_the_heading_of_the_page_it_leads_to(page: Page, live: LiveServer) -> None:
    # The form is an htmx post answered with a redirect: a whole new page, whose heading takes the focus (as after a
    # swap), so that keyboard and screen-reader users start at what is new.
    sign_in(page, live.account.api_key)
    expect(page.get_by_role("heading", level=1, name="Home")).to_be_focused()

    page.reload()  # an ordinary page load leaves the focus where the browser puts it
    expect(page.get_by_role("heading", level=1, name="Home")).not_to_be_focused()


def test_signing_in_works_without_javascript(new_context: Any, live: LiveServer) -> None:
    page: Page = new_context(java_script_enabled=False).new_page()
    page.goto("/console/sign-in")

    page.get_by_label("API key").fill("sk_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That API key was not accepted")
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()  # a whole page, not a fragment

    page.get_by_label("API key").fill(live.account.api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(HOME)
    expect(page.get_by_test_id("balance-available")).to_have_text(f"{START_BALANCE:,}")


def test_another_account_sees_its_own_balance(account_page: Any) -> None:
    page, _ = account_page(1_234)
    expect(page.get_by_test_id("balance-available")).to_have_text("1,234")
