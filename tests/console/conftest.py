"""Fixtures for the console's fast tests: a TestClient on ``https://testserver`` (so the Secure session cookie
comes back) whose unsafe requests carry a web's same-origin Fetch Metadata, and a signed-in variant."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from contactvault.server.api.app import create_app
from contactvault.server.runtime import Runtime
from tests.factories import Account

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def web(directory: Runtime) -> Iterator[TestClient]:
    """A client that behaves like a web on the console's own pages (same-origin, HTTPS, no redirects)."""
    app = create_app(runtime=directory)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False, headers=SAME_ORIGIN
    ) as client:
        yield client


@pytest.fixture
def signed_in(web: TestClient, account: Account) -> TestClient:
    """The web, signed in with the account's key."""
    response = web.post("/console/sign-in", data={"api_key": account.api_key, "next": "/console"})
    assert response.status_code == 303, response.text
    return web


def soup(html: str) -> BeautifulSoup:
    """Parsed HTML, for asserting on what a page shows."""
    return BeautifulSoup(html, "html.parser")


def text(html: str, selector: str) -> str:
    """The text of the one element matching ``selector`` (the test fails if there is none)."""
    found = soup(html).select_one(selector)
    assert found is not None, f"nothing matches {selector}"
    return found.get_text(" ", strip=True)
