"""Rendering: one Jinja2 environment (autoescape on for every template), whole pages or one block of a page.

A route renders the whole page for a normal request and only the block it names for an htmx request
(``HX-Request``), so every URL a user can reach, bookmark or go Back to is a full page, and the fragments are the
same markup. Templates are ``*.html`` files under ``templates/``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from jinja2_fragments import render_block
from starlette.requests import Request
from starlette.responses import HTMLResponse

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_PREFIX = "/console/static"


@cache
def _asset_version(path: str) -> str:
    return hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:12]


def static_url(path: str) -> str:
    """A static file's URL with its content hash, so it may be cached for a year."""
    return f"{STATIC_PREFIX}/{path}?v={_asset_version(path)}"


def credits_text(value: int | None) -> str:
    """An amount with thousands separators (``12,345``); an absent one as an en dash."""
    return "\u2013" if value is None else f"{value:,}"


def when_text(moment: datetime | str | None) -> str:
    """A moment in UTC, minute precision: ``2026-11-30 06:20 UTC``."""
    if moment is None:
        return "\u2013"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=StrictUndefined,  # a misspelt variable is an error in tests, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = static_url
    env.filters["credits"] = credits_text
    env.filters["when"] = when_text
    return env


ENV = _environment()


def is_htmx(request: Request) -> bool:
    """Whether htmx sent this request (it then swaps a fragment, not a whole page).

    Not when htmx restores history (Back after ``hx-push-url``): it then re-fetches the URL with both headers and
    swaps the answer in place of the whole ``<body>``, so it needs the whole page.
    """
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-history-restore-request") != "true"


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The whole page, or only ``block`` of it when htmx asked (``Vary: HX-Request`` either way)."""
    full = {"request": request, "principal": getattr(request.state, "principal", None), **context}
    if block is not None and is_htmx(request):
        html = render_block(ENV, template, block, full)
    else:
        html = ENV.get_template(template).render(full)
    all_headers = {"Vary": "HX-Request", **(headers or {})}
    return HTMLResponse(html, status_code=status_code, headers=all_headers)
