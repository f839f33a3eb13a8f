"""Every non-2xx answer: the error body, a trace id, the security headers, no stack trace; strict JSON; CORS."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from contactvault.server.services import credits
from tests.engine import count
from tests.factories import BIG_EVENT, Account
from tests.security.conftest import AppFactory

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
UNLOCK = "/external/contacts/unlock"
GOOD = '{"event_id": "100", "personnel_ids": ["1"]}'


def assert_error(response: httpx.Response, status: int, error_key: str) -> dict[str, Any]:
    """The contract's error body with a trace id equal to ``X-Request-ID``, the security headers, no traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) - {"details"} == {"code", "message", "errorKey", "traceId"}
    assert (body["code"], body["errorKey"]) == (status, error_key)
    assert body["traceId"]
    assert response.headers["X-Request-ID"] == body["traceId"]
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    return body


def raw_post(client: TestClient, account: Account, content: bytes, content_type: str = "application/json") -> Any:
    """POST an unlock with exactly these body bytes."""
    return client.post(UNLOCK, content=content, headers={**account.headers, "Content-Type": content_type})


def test_non_2xx_answers_carry_the_error_body(
    directory: Runtime, make_client: AppFactory, account: Account, other_account: Account
) -> None:
    client = make_client(rate_limit_per_key=30)
    task = client.post(UNLOCK, json={"event_id": str(BIG_EVENT), "personnel_ids": ["1"]}, headers=account.headers)
    task_id = task.json()["task_id"]
    poor = credits.balance(directory, other_account.id).total_balance
    too_many = {"event_id": str(BIG_EVENT), "personnel_ids": [str(i) for i in range(1, 102)]}
    cases = [
        (client.get("/external/credits/balance"), 401, "INVALID_API_KEY"),
        (client.get("/external/credits/balance", headers={"Authorization": "Bearer sk_zz"}), 401, "INVALID_API_KEY"),
        (client.get("/nowhere", headers=account.headers), 404, "NOT_FOUND"),
        (client.get(f"/external/contacts/unlock-tasks/{task_id}", headers=other_account.headers), 404, "NOT_FOUND"),
        (client.get("/external/events/999999", headers=account.headers), 404, "NOT_FOUND"),
        (client.get("/external/personnel/list", headers=account.headers), 400, "INVALID_REQUEST"),
        (client.post(UNLOCK, json=too_many, headers=account.headers), 400, "INVALID_REQUEST"),
        (
            client.post(UNLOCK, json={"event_id": "1", "personnel_ids": ["1"], "x": 1}, headers=account.headers),
            400,
            "INVALID_REQUEST",
        ),
        (raw_post(client, account, b"{not json"), 400, "INVALID_REQUEST"),
        (
            raw_post(client, account, b'{"event_id": "100", "personnel_ids": ["1"], "max_credits": NaN}'),
            400,
            "INVALID_REQUEST",
        ),
        (raw_post(client, account, b"\xff\xfe" + GOOD.encode("utf-16-le")), 400, "INVALID_REQUEST"),
        (raw_post(client, account, b"x" * 1_000_001), 413, "INVALID_REQUEST"),
        (client.delete(UNLOCK, headers=account.headers), 405, "INVALID_REQUEST"),
        (client.get("/external/credits/balance?q=%ff", headers=account.headers), 400, "INVALID_REQUEST"),
    ]
    for response, status, key in cases:
        assert_error(response, status, key)
    phone_ids = [str(i) for i in range(3, 300, 3)][: poor // 150 + 1]
    broke = client.post(
        "/external/contacts/unlock-phone",
        json={"event_id": "100", "personnel_ids": phone_ids},
        headers=other_account.headers,
    )
    assert assert_error(broke, 402, "INSUFFICIENT_CREDITS")["details"]["required"] > poor
    for _ in range(40):
        last = client.get("/external/credits/balance", headers=account.headers)
    assert_error(last, 429, "RATE_LIMIT_EXCEEDED")


def test_a_caller_request_id_is_echoed_and_an_unsafe_one_replaced(client: TestClient) -> None:
    echoed = client.get("/external/credits/balance", headers={"X-Request-ID": "abc-123"})
    assert assert_error(echoed, 401, "INVALID_API_KEY")["traceId"] == "abc-123"
    replaced = client.get("/external/credits/balance", headers={"X-Request-ID": "a b\tc"})
    assert assert_error(replaced, 401, "INVALID_API_KEY")["traceId"] != "a b\tc"


def test_an_unexpected_failure_is_a_500_with_the_body_and_no_trace(
    client: TestClient, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("secret internals: /etc/passwd")

    monkeypatch.setattr(credits, "balance", explode)
    response = client.get("/external/credits/balance", headers=account.headers)
    body = assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret internals" not in response.text
    assert body["message"] == "Internal error."


@pytest.mark.parametrize(
    "content",
    [
        b'{"event_id": "100", "personnel_ids": ["1"], "max_credits": NaN}',
        b'{"event_id": "100", "personnel_ids": ["1"], "max_credits": Infinity}',
        b'{"event_id": "100", "personnel_ids": ["1"], "max_credits": -Infinity}',
        b'{"event_id": "100", "event_id": "200", "personnel_ids": ["1"]}',
        b'{"event_id": "100", "personnel_ids": ["1"], "x": {"a": 1, "a": 2}}',
        b'{"event_id": "100", "personnel_ids": ["\xff"]}',
        GOOD.encode("utf-16"),
        GOOD.encode("utf-32"),
    ],
    ids=["nan", "infinity", "minus-infinity", "duplicate-key", "nested-duplicate", "latin1", "utf-16", "utf-32"],
)
def test_bodies_that_are_not_strict_json_are_400_and_create_nothing(
    directory: Runtime, client: TestClient, account: Account, content: bytes
) -> None:
    before = count(directory, tables.tasks), count(directory, tables.idempotency_keys)
    response = client.post(
        UNLOCK, content=content, headers={**account.headers, "Content-Type": "application/json", "Idempotency-Key": "k"}
    )
    assert assert_error(response, 400, "INVALID_REQUEST")["details"] == {"field": "body"}
    assert (count(directory, tables.tasks), count(directory, tables.idempotency_keys)) == before


def test_nan_in_the_precheck_params_is_refused_too(client: TestClient, account: Account) -> None:
    content = b'{"action_type": "unlock_contact_emails", "params": {"event_id": "100", "personnel_ids": [NaN]}}'
    response = client.post(
        "/external/actions/precheck", content=content, headers={**account.headers, "Content-Type": "application/json"}
    )
    assert_error(response, 400, "INVALID_REQUEST")


def test_a_streamed_body_past_the_limit_is_413(client: TestClient, account: Account) -> None:
    def chunks() -> Any:
        yield b'{"event_id": "100", "personnel_ids": ["'
        for _ in range(20):
            yield b"1" * 100_000
        yield b'"]}'

    response = client.post(UNLOCK, content=chunks(), headers={**account.headers, "Content-Type": "application/json"})
    assert_error(response, 413, "INVALID_REQUEST")


def test_success_responses_carry_the_security_headers(client: TestClient, account: Account) -> None:
    response = client.get("/external/credits/balance", headers=account.headers)
    assert response.status_code == 200
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_cors_is_off_unless_origins_are_configured(client: TestClient, account: Account) -> None:
    preflight = client.options(
        "/external/credits/balance",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    simple = client.get("/external/credits/balance", headers={**account.headers, "Origin": "https://app.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_answers_only_configured_origins(make_client: AppFactory, account: Account) -> None:
    client = make_client(cors_origins="https://app.example, https://admin.example")
    allowed = client.get("/external/credits/balance", headers={**account.headers, "Origin": "https://app.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-ratelimit-remaining" in allowed.headers["access-control-expose-headers"].lower()
    preflight = client.options(
        "/external/contacts/unlock",
        headers={
            "Origin": "https://admin.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Idempotency-Key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://admin.example"
    other = client.get("/external/credits/balance", headers={**account.headers, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-credentials" not in allowed.headers
