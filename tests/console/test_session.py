"""Signing in and out of the console, and what a session is bound to."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from contactvault.server.clock import FakeClock
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts
from tests.console.conftest import text
from tests.factories import Account

COOKIE = "__Host-cv_session"


def test_a_page_without_a_session_leads_to_sign_in_and_back(web: TestClient) -> None:
    response = web.get("/console?from=mail")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=/console%3Ffrom%3Dmail"


def test_a_wrong_key_is_refused_with_a_message_and_no_cookie(web: TestClient, account: Account) -> None:
    response = web.post("/console/sign-in", data={"api_key": account.api_key[:-2] + "xx"})
    assert response.status_code == 422
    assert "was not accepted" in text(response.text, "[role=alert]")
    assert COOKIE not in response.cookies
    assert account.api_key[:-2] not in response.text  # the key is never echoed


def test_the_right_key_opens_a_session_with_a_safe_cookie(web: TestClient, account: Account) -> None:
    response = web.post("/console/sign-in", data={"api_key": account.api_key, "next": "/console/events"})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/events"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert flag.lower() in cookie.lower()
    assert "domain" not in cookie.lower()
    assert account.api_key not in cookie
    home = web.get("/console")
    assert home.status_code == 200
    assert "10,000" in text(home.text, "[data-testid=balance-available]")
    assert f"sk_{account.key_id}_" in home.text


def test_next_never_leads_to_another_site(web: TestClient, account: Account) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = web.post("/console/sign-in", data={"api_key": account.api_key, "next": target})
        assert response.headers["location"] == "/console", target


def test_sign_out_ends_the_session_on_the_server(signed_in: TestClient) -> None:
    token = signed_in.cookies.get(COOKIE)
    response = signed_in.post("/console/sign-out")
    assert response.status_code == 303
    assert "max-age=0" in response.headers["set-cookie"].lower()
    signed_in.cookies.set(COOKIE, token, domain="testserver")  # a copy kept by an attacker is dead too
    assert signed_in.get("/console").status_code == 303


def test_revoking_the_key_signs_its_sessions_out(signed_in: TestClient, directory: Runtime, account: Account) -> None:
    assert signed_in.get("/console").status_code == 200
    accounts.revoke_key(directory, account.key_id)
    assert signed_in.get("/console").status_code == 303


def test_a_session_ends_after_idling_and_at_its_absolute_limit(
    signed_in: TestClient, directory: Runtime, clock: FakeClock
) -> None:
    idle = timedelta(seconds=directory.settings.console_idle_seconds)
    clock.advance((idle - timedelta(minutes=5)).total_seconds())
    assert signed_in.get("/console").status_code == 200  # activity moves the idle limit
    clock.advance((idle - timedelta(minutes=5)).total_seconds())
    assert signed_in.get("/console").status_code == 200
    clock.advance((idle + timedelta(seconds=1)).total_seconds())
    assert signed_in.get("/console").status_code == 303


def test_the_absolute_limit_holds_even_for_a_busy_session(
    signed_in: TestClient, directory: Runtime, clock: FakeClock
) -> None:
    absolute = timedelta(seconds=directory.settings.console_absolute_seconds)
    step = timedelta(seconds=directory.settings.console_idle_seconds) / 2
    elapsed = timedelta(0)
    while elapsed + step < absolute:
        clock.advance((step).total_seconds())
        elapsed += step
        assert signed_in.get("/console").status_code == 200
    clock.advance((absolute - elapsed).total_seconds())
    assert signed_in.get("/console").status_code == 303
