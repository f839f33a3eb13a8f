"""Every error has the contract's body and its trace id in ``X-Request-ID``; security headers on every answer;
/healthz needs no key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from contactvault.server.services import directory
from tests.api.test_personnel_routes import BACKENDS, World, open_world

ERROR_KEYS = {
    400: "INVALID_REQUEST",
    401: "INVALID_API_KEY",
    404: "NOT_FOUND",
    405: "INVALID_REQUEST",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}
GENERATED_TRACE_ID = re.compile(r"[0-9a-f]{16}")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
# (method, url, send the key?) -> the status it must answer.
ERRORS = [
    ("GET", "/external/events/list", False, 401),
    ("GET", "/external/events/list?pageSize=0", True, 400),
    ("GET", "/external/contacts/search", True, 400),
    ("GET", "/external/contacts/search?company_name=%ff", True, 400),
    ("GET", "/external/personnel/list?event_id=100&pageSize=51", True, 400),
    ("GET", "/external/personnel/profile?personnel_id=abc", True, 400),
    ("GET", "/external/events/999", True, 404),
    ("GET", "/external/events/abc", True, 404),
    ("GET", "/external/personnel/list?event_id=999", True, 404),
    ("GET", "/external/personnel/profile?personnel_id=999999", True, 404),
    ("GET", "/external/no-such-route", True, 404),
    ("GET", "/nowhere", False, 404),
    ("POST", "/external/events/list", True, 405),
    ("DELETE", "/external/personnel/profile?personnel_id=1", True, 405),
]


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The directory this module's read-only tests share."""
    yield from open_world(request, tmp_path_factory)


def send(world: World, method: str, url: str, with_key: bool, headers: dict[str, str] | None = None) -> httpx.Response:
    """One request, with the account's key when asked."""
    all_headers = {**(world.account.headers if with_key else {}), **(headers or {})}
    return world.client.request(method, url, headers=all_headers)


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The contract's error body for ``status``, its trace id also in ``X-Request-ID``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert (
        {"code", "message", "errorKey", "traceId"} <= set(body) <= {"code", "message", "errorKey", "traceId", "details"}
    )
    assert body["code"] == status
    assert body["errorKey"] == ERROR_KEYS[status]
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["traceId"], str)
    assert body["traceId"]
    assert response.headers["X-Request-ID"] == body["traceId"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(("method", "url", "with_key", "status"), ERRORS)
def test_every_error_has_the_error_body_and_its_trace_id_header(
    world: World, method: str, url: str, with_key: bool, status: int
) -> None:
    body = assert_error(send(world, method, url, with_key), status)
    assert GENERATED_TRACE_ID.fullmatch(body["traceId"])


@pytest.mark.parametrize(("method", "url", "with_key", "status"), ERRORS)
def test_every_error_echoes_a_sane_caller_request_id(
    world: World, method: str, url: str, with_key: bool, status: int
) -> None:
    response = send(world, method, url, with_key, {"X-Request-ID": "caller-req_42.a:b"})
    assert assert_error(response, status)["traceId"] == "caller-req_42.a:b"


def test_method_not_allowed_names_the_allowed_method(world: World) -> None:
    response = send(world, "POST", "/external/events/list", True)
    assert_error(response, 405)
    assert response.headers["Allow"] == "GET"


def test_validation_error_names_the_field_without_echoing_the_value(world: World) -> None:
    response = world.get("/external/personnel/profile", {"personnel_id": "<b>x</b>"})
    body = assert_error(response, 400)
    assert body["details"] == {"field": "personnel_id"}
    assert "<b>" not in body["message"]


def test_unexpected_failure_is_500_with_the_error_body_and_no_detail(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret internals at /srv/contactvault/db.py line 12")

    monkeypatch.setattr(directory, "list_events", explode)
    response = send(world, "GET", "/external/events/list", True, {"X-Request-ID": "boom-1"})
    body = assert_error(response, 500)
    assert body["traceId"] == "boom-1"
    assert "secret" not in response.text
    assert "RuntimeError" not in response.text
    assert all(response.headers[name] == value for name, value in SECURITY_HEADERS.items())


def test_database_outage_is_503_with_retry_after(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def outage(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused: db.internal:5432"))

    monkeypatch.setattr(directory, "search_contacts", outage)
    response = world.get("/external/contacts/search", {"company_name": "acme"})
    assert_error(response, 503)
    assert response.headers["Retry-After"].isdigit()
    assert "db.internal" not in response.text


# X-Request-ID


@pytest.mark.parametrize("request_id", ["abc", "req-123_4.5:6", "A" * 64, "0"])
def test_sane_request_id_is_echoed_on_success(world: World, request_id: str) -> None:
    response = send(world, "GET", "/external/events/list", True, {"X-Request-ID": request_id})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == request_id


@pytest.mark.parametrize(
    "request_id",
    ["A" * 65, "has space", "tab\there", "ctrl\x01char", "semi;colon", "<script>", "a/b", "quote'd", "é".encode()],
)
def test_insane_request_id_is_replaced(world: World, request_id: str | bytes) -> None:
    response = world.client.get("/external/events/999", headers={**world.account.headers, "X-Request-ID": request_id})
    body = assert_error(response, 404)
    assert body["traceId"] != request_id
    assert GENERATED_TRACE_ID.fullmatch(body["traceId"])


def test_empty_request_id_is_replaced(world: World) -> None:
    response = send(world, "GET", "/external/events/list", True, {"X-Request-ID": ""})
    assert GENERATED_TRACE_ID.fullmatch(response.headers["X-Request-ID"])


def test_every_request_gets_its_own_trace_id(world: World) -> None:
    seen = {send(world, "GET", "/external/events/list", ok).headers["X-Request-ID"] for ok in (True, False) * 5}
    assert len(seen) == 10


# Security headers and health


@pytest.mark.parametrize(
    ("url", "with_key", "status"),
    [
        ("/external/events/list", True, 200),
        ("/external/personnel/profile?personnel_id=1", True, 200),
        ("/external/credits/balance", True, 200),
        ("/external/events/list", False, 401),
        ("/external/events/999", True, 404),
        ("/external/contacts/search?company_name=%ff", True, 400),
        ("/healthz", False, 200),
        ("/openapi.json", False, 200),
    ],
)
def test_security_headers_are_on_every_answer(world: World, url: str, with_key: bool, status: int) -> None:
    response = send(world, "GET", url, with_key)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


@pytest.mark.parametrize(
    "url",
    ["/external/events/list", "/external/events/100", "/external/personnel/list?event_id=100", "/healthz"],
)
def test_success_is_json(world: World, url: str) -> None:
    response = send(world, "GET", url, True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
def test_healthz_answers_without_a_key(world: World, headers: dict[str, str]) -> None:
    response = world.client.get("/healthz", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
