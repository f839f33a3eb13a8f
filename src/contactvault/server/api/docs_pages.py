"""/docs (Swagger UI) and /redoc (ReDoc) served entirely from this package: no CDN, no web fonts.

FastAPI's own pages load Swagger UI, ReDoc, Google Fonts and a favicon from public hosts, so on an air-gapped
or firewalled install they stay blank, and every view tells third parties that someone is reading this server's
docs. Here the same pages (FastAPI's ``get_swagger_ui_html``/``get_redoc_html``) point at files vendored in
``docs_assets/`` (pinned npm releases, copied unchanged; ``manifest.json`` records versions, the tarballs'
integrity and each file's SHA-256, and the licence files travel with them), served at ``/docs/assets/<name>``.
ReDoc gets a system font stack instead of its default Google fonts; Swagger UI's online validator is off.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse

__all__ = ["ASSETS", "install"]

ASSETS = Path(__file__).parent / "docs_assets"
PREFIX = "/docs/assets"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}
# The files are versioned by the package: a day of caching is safe, and an upgrade changes them with the server.
CACHE = "public, max-age=86400"
SYSTEM_FONTS = 'system-ui, -apple-system, "Segoe UI", "Helvetica Neue", Arial, sans-serif'
MONOSPACE = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace'
REDOC_THEME = {
    "typography": {
        "fontFamily": SYSTEM_FONTS,
        "headings": {"fontFamily": SYSTEM_FONTS},
        "code": {"fontFamily": MONOSPACE},
    }
}


def _served() -> dict[str, str]:
    """Name -> media type of every file the manifest says is served."""
    manifest = json.loads((ASSETS / "manifest.json").read_text(encoding="utf-8"))
    return {name: MEDIA_TYPES[Path(name).suffix] for name, entry in manifest["files"].items() if entry["served"]}


def _redoc_page(openapi_url: str, title: str) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=openapi_url,
        title=title,
        redoc_js_url=f"{PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{PREFIX}/favicon-32x32.png",
        with_google_fonts=False,
    )
    # ReDoc reads its options from the element's attributes; the theme is JSON (single-quoted attribute).
    theme = json.dumps(REDOC_THEME).replace("'", "&#39;")
    html = bytes(page.body).decode().replace("<redoc spec-url=", f"<redoc theme='{theme}' spec-url=", 1)
    return HTMLResponse(html)


def install(app: FastAPI) -> None:
    """Add /docs, /redoc and their assets (the app must be created with ``docs_url=None, redoc_url=None``)."""
    served = _served()
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} - API reference"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _redoc_page(openapi_url, title)

    @app.get(PREFIX + "/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        media_type = served.get(name)
        if media_type is None:
            raise HTTPException(404, "No such file.")
        return FileResponse(ASSETS / name, media_type=media_type, headers={"Cache-Control": CACHE})
