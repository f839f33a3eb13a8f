"""Security smoke test in a real browser: cross-site posts are refused, every console response carries the CSP,
and the session cookie is one page scripts cannot read and other sites cannot send."""

from __future__ import annotations

from playwright.sync_api import Page, Response, expect

from tests.browser.conftest import sign_in
from tests.browser.live import LiveServer
from tests.browser.test_sign_in import session_cookies

CSP = "default-src 'self'; script-src 'self'; style-src 'self'"


def test_a_cross_site_post_is_refused_and_changes_nothing(signed_in_page: Page, live: LiveServer) -> None:
    refused = signed_in_page.request.post(
        live.at("/console/sign-out"), headers={"Sec-Fetch-Site": "cross-site"}, max_redirects=0
    )
    assert refused.status == 403
    assert "Request refused" in refused.text()

    signed_in_page.reload()  # still signed in: the sign-out was not carried out
    expect(signed_in_page.get_by_role("heading", level=1, name="Home")).to_be_visible()


def test_every_console_response_has_the_csp_and_the_cookie_is_locked_down(page: Page, live: LiveServer) -> None:
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))

    sign_in(page, live.account.api_key)
    expect(page.get_by_role("heading", level=1, name="Home")).to_be_visible()

    console = [r for r in responses if r.url.startswith(live.at("/console"))]
    assert {r.request.resource_type for r in console} >= {"document", "script", "stylesheet"}
    for response in console:
        policy = response.header_value("content-security-policy") or ""
        assert policy.startswith(CSP), f"{response.url} has CSP {policy!r}"
        assert "frame-ancestors 'none'" in policy
    [cookie] = session_cookies(page)
    assert cookie["httpOnly"] is True
    assert cookie["secure"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert live.account.api_key not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # page scripts cannot read it
