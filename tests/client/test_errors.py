"""Every non-2xx answer maps to one exception class carrying status, errorKey, trace id and details."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from contactvault import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    Client,
    ConflictError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    PriceChangedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
)

from .conftest import API_KEY


def error_handler(status: int, key: str | None, **extra: object) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        body: dict[str, object] = {"code": status, "message": "nope", "traceId": "t-123", **extra}
        if key:
            body["errorKey"] = key
        return httpx.Response(status, json=body)

    return handle


@pytest.mark.parametrize(
    ("status", "key", "expected"),
    [
        (400, "INVALID_REQUEST", InvalidRequestError),
        (401, "INVALID_API_KEY", AuthenticationError),
        (402, "INSUFFICIENT_CREDITS", InsufficientCreditsError),
        (404, "NOT_FOUND", NotFoundError),
        (409, "STATE_CONFLICT", ConflictError),
        (409, "IDEMPOTENCY_KEY_IN_USE", IdempotencyKeyInUseError),
        (409, "PRICE_CHANGED", PriceChangedError),
        (422, "IDEMPOTENCY_KEY_REUSED", IdempotencyKeyReusedError),
        (429, "RATE_LIMIT_EXCEEDED", RateLimitError),
        (503, "SERVICE_UNAVAILABLE", ServiceUnavailableError),
        (500, "INTERNAL", ServerError),
        (418, "TEAPOT", APIStatusError),
    ],
)
def test_status_and_error_key_map_to_exception_class(
    make_client: Callable[..., Client], status: int, key: str, expected: type[APIStatusError]
) -> None:
    client = make_client(error_handler(status, key), max_attempts=1)
    with pytest.raises(expected) as caught:
        client.credits.balance()
    error = caught.value
    assert type(error) is expected
    assert error.status_code == error.http_status == status
    assert error.error_key == error.code == key
    assert error.message == "nope"
    assert error.trace_id == "t-123"
    assert error.response.status_code == status


def test_idempotency_key_reused_is_an_invalid_request(make_client: Callable[..., Client]) -> None:
    client = make_client(error_handler(422, "IDEMPOTENCY_KEY_REUSED"))
    with pytest.raises(InvalidRequestError):
        client.unlocks.create("1", ["2"], idempotency_key="k")


def test_price_changed_is_a_conflict_exposing_the_quoted_and_current_price(make_client: Callable[..., Client]) -> None:
    details = {"quoted": 45, "now": 30, "no_longer_chargeable": ["2"], "newly_chargeable": []}
    calls: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error_handler(409, "PRICE_CHANGED", details=details)(request)

    client = make_client(handle, max_attempts=3)
    with pytest.raises(ConflictError) as caught:
        client.unlocks.create("1", ["1", "2", "3"])
    assert len(calls) == 1  # never retried: the caller must precheck again
    error = caught.value
    assert isinstance(error, PriceChangedError)
    assert (error.quoted, error.now) == (45, 30)
    assert error.details["no_longer_chargeable"] == ["2"]


def test_insufficient_credits_exposes_required_and_available(make_client: Callable[..., Client]) -> None:
    client = make_client(error_handler(402, "INSUFFICIENT_CREDITS", details={"required": 45, "available": 30}))
    with pytest.raises(InsufficientCreditsError) as caught:
        client.unlocks.create("1", ["2", "3", "4"])
    assert caught.value.required == 45
    assert caught.value.available == 30
    assert caught.value.details == {"required": 45, "available": 30}


def test_trace_id_falls_back_to_x_request_id_header(make_client: Callable[..., Client]) -> None:
    client = make_client(lambda r: httpx.Response(404, text="gone", headers={"X-Request-ID": "hdr-9"}))
    with pytest.raises(NotFoundError) as caught:
        client.events.get("1")
    assert caught.value.trace_id == "hdr-9"
    assert caught.value.error_key is None
    assert caught.value.message == "Not Found"


def test_rate_limit_error_reads_retry_after(make_client: Callable[..., Client]) -> None:
    client = make_client(
        lambda r: httpx.Response(429, json={"errorKey": "RATE_LIMIT_EXCEEDED"}, headers={"Retry-After": "120"}),
        max_attempts=1,
    )
    with pytest.raises(RateLimitError) as caught:
        client.credits.balance()
    assert caught.value.retry_after == 120.0


def test_connection_failure_becomes_api_connection_error(make_client: Callable[..., Client]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = make_client(refuse, max_attempts=1)
    with pytest.raises(APIConnectionError) as caught:
        client.credits.balance()
    assert not isinstance(caught.value, APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_read_timeout_becomes_api_timeout_error(make_client: Callable[..., Client]) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = make_client(slow, max_attempts=1)
    with pytest.raises(APITimeoutError):
        client.credits.balance()


def test_error_text_and_repr_never_contain_the_api_key(make_client: Callable[..., Client]) -> None:
    client = make_client(error_handler(401, "INVALID_API_KEY"))
    with pytest.raises(AuthenticationError) as caught:
        client.credits.balance()
    for text in (str(caught.value), repr(caught.value), repr(client)):
        assert API_KEY not in text
    assert str(caught.value) == "401 INVALID_API_KEY: nope (trace t-123)"
