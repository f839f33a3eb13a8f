"""Signing in to the console with an email and a password (a user of an account)."""

from __future__ import annotations

import hashlib
import logging

import httpx
import pytest
from fastapi.testclient import TestClient

from contactvault.server.api.ratelimit import RateLimiter
from contactvault.server.runtime import Runtime
from contactvault.server.services import console_users
from tests.console.conftest import soup, text
from tests.factories import Account

PASSWORD = "correct horse battery"
EMAIL = "jane.doe@example.com"


@pytest.fixture
def user(directory: Runtime, account: Account) -> console_users.UserInfo:
    """A user of ``account``."""
    return console_users.create_user(directory, account.id, EMAIL, PASSWORD)


def _sign_in(web: TestClient, email: str, password: str, **headers: str) -> httpx.Response:
    response = web.post(
        "/console/sign-in/password", data={"email": email, "password": password, "next": "/console"}, headers=headers
    )
    assert PASSWORD not in response.text
    return response


def test_the_sign_in_page_leads_to_a_password_form_beside_the_key_form(web: TestClient) -> None:
    key_page = soup(web.get("/console/sign-in?next=/console/account").text)
    tab = key_page.select_one("nav.sign-in-tabs a[href='/console/sign-in/password?next=/console/account']")
    assert tab is not None
    assert key_page.select_one("form[action='/console/sign-in/password']") is None  # one form at a time
    response = web.get(str(tab["href"]))
    assert response.status_code == 200
    page = soup(response.text)
    form = page.select_one("form[method=post][action='/console/sign-in/password']")
    assert form is not None
    assert form.select_one("input[name=email][type=email]") is not None
    assert form.select_one("input[name=password][type=password]") is not None
    assert form.select_one("input[name=next][value='/console/account']") is not None
    assert page.select_one("input[name=api_key]") is None
    assert [h.get_text(strip=True) for h in page.select("h1")] == ["Sign in"]
    assert [b.get_text(strip=True) for b in page.select("button")] == ["Sign in"]
    current = page.select_one("nav.sign-in-tabs a[aria-current=page]")
    assert current is not None
    assert current.get_text(strip=True) == "With email and password"


def test_a_signed_in_browser_skips_the_password_form(signed_in: TestClient) -> None:
    response = signed_in.get("/console/sign-in/password?next=/console/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/account"


def test_the_right_password_opens_a_session_that_shows_the_users_email(
    web: TestClient, user: console_users.UserInfo, account: Account
) -> None:
    response = web.post(
        "/console/sign-in/password",
        data={"email": "Jane.Doe@Example.com", "password": PASSWORD, "next": "/console/account"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/account"
    assert PASSWORD not in response.headers["set-cookie"]
    page = web.get("/console/account")
    assert page.status_code == 200
    assert text(page.text, "[data-testid=signed-in-as]") == EMAIL
    assert text(page.text, "[data-testid=principal]") == EMAIL
    assert text(page.text, "[data-testid=account-name]") == f"test (id {account.id})"
    users_table = text(page.text, "[data-testid=users]")
    assert EMAIL in users_table
    assert "Active" in users_table


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    web: TestClient, user: console_users.UserInfo
) -> None:
    wrong = _sign_in(web, EMAIL, PASSWORD + "!")
    unknown = _sign_in(web, "nobody@example.com", PASSWORD)
    assert wrong.status_code == unknown.status_code == 422
    assert wrong.text.replace(EMAIL, "E") == unknown.text.replace("nobody@example.com", "E")
    assert "Email or password not accepted" in text(wrong.text, "[role=alert]")
    assert "__Host-cv_session" not in wrong.headers.get("set-cookie", "")
    assert web.get("/console").status_code == 303
    fragment = _sign_in(web, EMAIL, "still the wrong one", **{"HX-Request": "true"})
    assert "<html" not in fragment.text
    assert soup(fragment.text).select_one("form#password-sign-in-form") is not None


def test_empty_fields_are_asked_for(web: TestClient) -> None:
    response = _sign_in(web, "", "")
    assert response.status_code == 422
    assert "Enter your email and your password" in text(response.text, "[role=alert]")


def test_the_password_never_reaches_a_response_or_a_log(
    web: TestClient, user: console_users.UserInfo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = [
        _sign_in(web, EMAIL, PASSWORD + "x"),
        _sign_in(web, "nobody@example.com", PASSWORD),
        _sign_in(web, EMAIL, PASSWORD),
        web.get("/console/account"),
    ]
    assert [r.status_code for r in responses] == [422, 422, 303, 200]
    assert all(PASSWORD not in r.text for r in responses)
    assert PASSWORD not in caplog.text
    assert EMAIL not in caplog.text


def test_too_many_attempts_for_one_email_are_refused_before_checking(
    web: TestClient, user: console_users.UserInfo
) -> None:
    limiter: RateLimiter = web.app.state.rate_limiter  # type: ignore[attr-defined]
    counted = "user-signin:" + hashlib.sha256(EMAIL.encode()).hexdigest()[:16]  # never the address itself
    for _ in range(limiter.limits["key"]):
        limiter.hit_key(counted)
    refused = _sign_in(web, "JANE.DOE@example.com", PASSWORD)  # the right password, but too late
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Too many sign-in attempts" in text(refused.text, "[role=alert]")
    assert web.get("/console").status_code == 303
    assert _sign_in(web, "someone.else@example.com", PASSWORD).status_code == 422  # another email is not limited


def test_a_disabled_users_session_ends_at_once(
    web: TestClient, directory: Runtime, user: console_users.UserInfo
) -> None:
    assert _sign_in(web, EMAIL, PASSWORD).status_code == 303
    assert web.get("/console").status_code == 200
    console_users.disable_user(directory, EMAIL)
    assert web.get("/console").status_code == 303
    assert _sign_in(web, EMAIL, PASSWORD).status_code == 422
