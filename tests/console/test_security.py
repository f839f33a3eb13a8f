"""The console's browser-facing protections: CSP and headers on every response, CSRF refusal, error pages,
and the vendored assets being exactly the pinned files."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contactvault.server.console.render import STATIC, TEMPLATES
from contactvault.server.console.security import CSP
from tests.console.conftest import text
from tests.factories import Account


def test_every_console_response_carries_the_strict_csp(web: TestClient, account: Account) -> None:
    responses = [
        web.get("/console/sign-in"),
        web.get("/console"),  # a redirect
        web.get("/console/no-such-page"),
        web.get("/console/static/console.css"),
        web.post("/console/sign-in", data={"api_key": "nope"}),
        web.post("/console/sign-in", data={"api_key": "nope"}, headers={"Sec-Fetch-Site": "cross-site"}),
    ]
    for response in responses:
        assert response.headers["content-security-policy"] == CSP, response.url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    for part in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"):
        assert part in CSP
    assert "unsafe" not in CSP


def test_pages_are_never_cached_but_hashed_static_files_are(web: TestClient) -> None:
    assert web.get("/console/sign-in").headers["cache-control"] == "no-store"
    assert "immutable" in web.get("/console/static/console.css?v=1").headers["cache-control"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": ""},  # neither header usable: refused
    ],
)
def test_a_cross_site_post_is_refused_before_it_does_anything(
    web: TestClient, account: Account, headers: dict[str, str]
) -> None:
    clean = {k: v for k, v in headers.items() if v}
    client_headers = dict(web.headers)
    client_headers.pop("sec-fetch-site", None)
    web.headers.clear()
    web.headers.update(client_headers)
    response = web.post("/console/sign-in", data={"api_key": account.api_key}, headers=clean)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers  # no session was opened
    assert "another site" in response.text


def test_a_post_with_only_our_own_origin_passes(web: TestClient, account: Account) -> None:
    web.headers.pop("sec-fetch-site", None)
    response = web.post("/console/sign-in", data={"api_key": account.api_key}, headers={"Origin": "https://testserver"})
    assert response.status_code == 303


def test_a_browser_at_the_root_is_led_to_the_console_and_an_api_client_still_gets_json(web: TestClient) -> None:
    browser = web.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 303
    assert browser.headers["location"] == "/console"
    api = web.get("/", headers={"Accept": "application/json"})
    assert api.status_code == 404
    assert api.json()["errorKey"] == "NOT_FOUND"


def test_an_unknown_console_page_is_a_friendly_page_not_json(signed_in: TestClient) -> None:
    response = signed_in.get("/console/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert text(response.text, "h1") == "Not found"


def test_vendored_assets_match_their_recorded_checksums() -> None:
    vendor = STATIC / "vendor"
    recorded = {}
    for line in (vendor / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        recorded[name] = digest
    assert {p.name for p in vendor.iterdir()} - {"SHA256SUMS"} == set(recorded)
    for name, digest in recorded.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name


def _console_files() -> list[Path]:
    files = [*TEMPLATES.rglob("*.html"), STATIC / "console.css", STATIC / "console.js"]
    assert len(files) >= 4
    return files


def test_no_template_or_static_file_reaches_another_origin() -> None:
    for path in _console_files():
        assert not re.search(r"""(?:src|href|action)\s*=\s*["']?(?:https?:)?//""", path.read_text()), path
        assert "url(http" not in path.read_text()


def test_no_inline_script_style_or_event_handler_in_templates() -> None:
    for path in TEMPLATES.rglob("*.html"):
        source = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), path
        assert "<style" not in source, path
        assert not re.search(r"\sstyle\s*=", source), path
        assert not re.search(r"\son[a-z]+\s*=", source), path
        assert "hx-on" not in source, path
        assert "js:" not in source, path
