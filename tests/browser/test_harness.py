"""The harness's guards catch what they are there to catch (so a clean browser test means something)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from tests.browser.conftest import Guard


def expect_problem(guard: Guard, fragment: str) -> None:
    """The guard noted ``fragment`` (its listeners run before the test's own); then it is forgiven."""
    assert any(fragment in problem for problem in guard.problems), guard.problems
    guard.problems.clear()


def test_a_request_to_another_site_is_blocked_and_fails_the_test(page: Page, guard: Guard) -> None:
    # (Inside a console page the CSP already stops it: see the next test. The guard is the net under the CSP.)
    with pytest.raises(PlaywrightError, match="ERR_FAILED"):
        page.goto("https://cdn.example/htmx.js")
    expect_problem(guard, "blocked a request to another origin: https://cdn.example/htmx.js")


def test_a_csp_violation_fails_the_test(page: Page, guard: Guard) -> None:
    page.goto("/console/sign-in")
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">inline</p>')")
    expect_problem(guard, "Content Security Policy")


def test_a_missing_asset_fails_the_test(page: Page, guard: Guard) -> None:
    page.goto("/console/sign-in")
    with page.expect_response(lambda r: r.url.endswith("/console/static/missing.png"), timeout=10_000):
        page.evaluate("document.body.append(Object.assign(new Image(), {src: '/console/static/missing.png'}))")
    expect_problem(guard, "404 for image")
