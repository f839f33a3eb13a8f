"""/docs and /redoc work offline: every asset comes from files vendored in the package, none from a CDN."""

from __future__ import annotations

import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import contactvault.server.api
from contactvault.server.runtime import Runtime

ASSETS = Path(contactvault.server.api.__file__).parent / "docs_assets"
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class References(HTMLParser):
    """Every src and href in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in {"src", "href"} and value is not None]


def references(html: str) -> list[str]:
    """The src/href values of a page."""
    parser = References()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_their_own_origin(directory: Runtime, client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = references(response.text)
    assert urls  # scripts, styles and the favicon
    for url in urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
    for host in ("cdn.jsdelivr.net", "fonts.googleapis.com", "fonts.gstatic.com", "fastapi.tiangolo.com", "unpkg"):
        assert host not in response.text
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content


def test_redoc_uses_a_system_font_stack(directory: Runtime, client: TestClient) -> None:
    html = client.get("/redoc").text
    assert "system-ui" in html
    assert "Montserrat" not in html
    assert "Roboto" not in html


def test_swagger_ui_does_not_call_the_online_validator(directory: Runtime, client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_assets_are_served_with_their_type_and_unknown_names_are_404(directory: Runtime, client: TestClient) -> None:
    manifest = json.loads((ASSETS / "manifest.json").read_text())
    served = [name for name, entry in manifest["files"].items() if entry["served"]]
    assert sorted(served) == ["favicon-32x32.png", "redoc.standalone.js", "swagger-ui-bundle.js", "swagger-ui.css"]
    for name in served:
        response = client.get(f"/docs/assets/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] == TYPES[Path(name).suffix]
        assert response.content == (ASSETS / name).read_bytes()
        assert "no-store" not in response.headers.get("cache-control", "")
    for name in ("manifest.json", "redoc.LICENSE", "..%2Fapp.py", "nope.js"):
        assert client.get(f"/docs/assets/{name}").status_code == 404


def test_the_manifest_pins_versions_and_its_checksums_match_the_files() -> None:
    manifest = json.loads((ASSETS / "manifest.json").read_text())
    for package in manifest["packages"].values():
        assert package["version"][0].isdigit()
        assert package["integrity"].startswith("sha512-")
        assert package["tarball"].startswith("https://registry.npmjs.org/")
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == entry["sha256"], name
        assert entry["package"] in manifest["packages"]
    vendored = {p.name for p in ASSETS.iterdir()} - {"manifest.json"}
    assert vendored == set(manifest["files"])  # nothing unlisted, nothing missing
    for package in manifest["packages"]:
        assert f"{package}.LICENSE" in vendored
