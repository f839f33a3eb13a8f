"""One table maps domain errors to HTTP; every error leaves as ``{code, message, errorKey, traceId[, details]}``."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from contactvault.server.domain import errors as e
from contactvault.server.domain.tasks import echoable

log = logging.getLogger("contactvault.api")

STATUS_BY_KEY: dict[str, int] = {
    e.InvalidRequest.error_key: 400,
    e.InvalidApiKey.error_key: 401,
    e.InsufficientCredits.error_key: 402,
    e.AgentNotAllowed.error_key: 403,
    e.AgentLimitExceeded.error_key: 403,
    e.ScopeRequired.error_key: 403,
    e.NotFound.error_key: 404,
    e.StateConflict.error_key: 409,
    e.IdempotencyKeyInUse.error_key: 409,
    e.PriceChanged.error_key: 409,
    e.IdempotencyKeyReused.error_key: 422,
    "RATE_LIMIT_EXCEEDED": 429,
    e.ServiceUnavailable.error_key: 503,
    "INTERNAL_ERROR": 500,
}
KEY_BY_STATUS = {
    400: "INVALID_REQUEST",
    401: "INVALID_API_KEY",
    404: "NOT_FOUND",
    405: "INVALID_REQUEST",
    409: "STATE_CONFLICT",
    413: "INVALID_REQUEST",
    415: "INVALID_REQUEST",
    429: "RATE_LIMIT_EXCEEDED",
}


def trace_id_of(request: Request) -> str:
    """The request's trace id (set by the middleware)."""
    return str(getattr(request.state, "trace_id", "") or "")


def error_response(
    request: Request,
    status: int,
    error_key: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The contract's error body."""
    body: dict[str, Any] = {
        "code": status,
        "message": message,
        "errorKey": error_key,
        "traceId": trace_id_of(request),
    }
    if details:
        body["details"] = details
    all_headers = {"X-Request-ID": body["traceId"], **(headers or {})}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=all_headers)


def _field_of(loc: tuple[Any, ...]) -> str:
    # An unknown body field is named by its key, which the caller chose: cut it like a malformed id.
    parts = [echoable(str(p)) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_response(request: Request, exc: RequestValidationError) -> Response:
    """400 naming the first offending field (never echoing its value)."""
    first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "Invalid request."}
    field = _field_of(tuple(first.get("loc", ())))
    message = str(first.get("msg", "Invalid value.")).replace("\n", " ")
    return error_response(request, 400, "INVALID_REQUEST", f"Invalid {field}: {message}", {"field": field})


class HtmlErrors(Protocol):
    """Who renders errors as pages for some paths (the console: ``console/errors.py``)."""

    def is_console(self, request: Request) -> bool: ...

    def error_page(
        self, request: Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response: ...


def _html_errors(request: Request) -> HtmlErrors | None:
    """The console's error pages when this request is the console's, else None."""
    pages: HtmlErrors | None = getattr(request.app.state, "html_errors", None)
    return pages if pages is not None and pages.is_console(request) else None


def install(app: FastAPI) -> None:
    """Register the handlers (a console request gets the console's error page instead of the JSON body)."""

    @app.exception_handler(e.DomainError)
    async def _domain(request: Request, exc: e.DomainError) -> Response:
        if pages := _html_errors(request):
            return pages.error_page(request, STATUS_BY_KEY.get(exc.error_key, 500), exc.message)
        return error_response(request, STATUS_BY_KEY.get(exc.error_key, 500), exc.error_key, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if pages := _html_errors(request):
            return pages.error_page(request, 400, orjson.loads(validation_response(request, exc).body)["message"])
        return validation_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        key = KEY_BY_STATUS.get(exc.status_code, "INVALID_REQUEST" if exc.status_code < 500 else "INTERNAL_ERROR")
        message = "Not found." if exc.status_code == 404 else str(exc.detail)
        if pages := _html_errors(request):
            return pages.error_page(request, exc.status_code, message, getattr(exc, "headers", None))
        return error_response(request, exc.status_code, key, message, headers=getattr(exc, "headers", None))

    async def _database(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s", type(exc).__name__)
        if pages := _html_errors(request):
            return pages.error_page(request, 503, "The service is temporarily unavailable.", {"Retry-After": "1"})
        return error_response(
            request,
            503,
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable; retry shortly.",
            headers={"Retry-After": "1"},
        )

    # Unreachable (OperationalError, InterfaceError) or saturated: no pooled connection came free in time.
    app.add_exception_handler(OperationalError, _database)
    app.add_exception_handler(InterfaceError, _database)
    app.add_exception_handler(PoolTimeout, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error(
            "unhandled %s on %s %s",
            type(exc).__name__,
            request.method,
            request.url.path,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        if pages := _html_errors(request):
            return pages.error_page(request, 500, "The request failed.")
        return error_response(request, 500, "INTERNAL_ERROR", "Internal error.")


def install_body_limit(app: FastAPI) -> None:
    """413 for a streamed body that outgrew the limit."""
    from contactvault.server.api.middleware import BodyTooLarge

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
        return error_response(request, 413, "INVALID_REQUEST", str(exc), {"field": "body"})
