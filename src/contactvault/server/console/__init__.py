"""The web console at ``/console``: server-rendered pages over the same services as the JSON API.

It is a second entrypoint beside ``api/``: its routes call ``services/`` directly (never the API over HTTP) and
render Jinja2 templates; htmx swaps named blocks of the same templates. ``install`` adds it to the API's app.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response

from contactvault.server.api.errors import error_response
from contactvault.server.console import auth, errors, pages
from contactvault.server.console.render import STATIC, STATIC_PREFIX
from contactvault.server.console.security import ConsoleSecurityMiddleware


def _routers() -> list[APIRouter]:
    """Every page module's ``router`` (one module per noun in ``pages/``)."""
    found = []
    for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{pages.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found


def install(app: FastAPI) -> None:
    """Mount the console's routes, static files, error pages and security middleware on the app."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="console-static")
    for router in _routers():
        app.include_router(router)
    app.state.html_errors = errors

    @app.exception_handler(auth.SignInRequired)
    async def _sign_in(request: Request, exc: auth.SignInRequired) -> Response:
        return errors.sign_in_redirect(request, exc)

    @app.exception_handler(auth.TooManyRequests)
    async def _too_many(request: Request, exc: auth.TooManyRequests) -> Response:
        message = f"You made too many requests in a short time; wait {exc.retry_after} s."
        return errors.error_page(request, 429, message, headers={"Retry-After": str(exc.retry_after)})

    @app.get("/", include_in_schema=False)
    async def _root(request: Request) -> Response:
        """A browser asking for the site's root is led to the console; an API client gets the usual 404."""
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/console", status_code=303)
        return error_response(request, 404, "NOT_FOUND", "Not found.")

    app.add_middleware(ConsoleSecurityMiddleware)
