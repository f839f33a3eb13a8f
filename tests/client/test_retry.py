"""Retry rules: transient failures are retried (honouring server hints), client errors never are."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from contactvault import (
    APIConnectionError,
    AuthenticationError,
    Client,
    ConflictError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    RetryNotice,
    RetryPolicy,
)
from contactvault.client._retry import retry_decision

BALANCE = {"totalBalance": 500}


class Script:
    """A handler that plays back a list of responses (or exceptions), recording each request."""

    def __init__(self, *steps: httpx.Response | type[httpx.TransportError]) -> None:
        self._steps: Iterator[httpx.Response | type[httpx.TransportError]] = iter(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = next(self._steps)
        if isinstance(step, type):
            raise step("boom", request=request)
        return step


def error(status: int, key: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"code": status, "errorKey": key, "message": key}
    request = httpx.Request("GET", "https://cv.test/external/credits/balance")
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_retries_429_honouring_retry_after(make_client: Callable[..., Client]) -> None:
    script = Script(error(429, "RATE_LIMIT_EXCEEDED", {"Retry-After": "2"}), httpx.Response(200, json=BALANCE))
    assert make_client(script).credits.balance().total_balance == 500
    assert len(script.requests) == 2


def test_retry_decision_waits_exactly_the_retry_after_hint() -> None:
    response = error(429, "RATE_LIMIT_EXCEEDED", {"Retry-After": "7"})
    exc = RateLimitError("slow down", response=response)
    assert retry_decision(exc, replay_safe=True, max_retry_after=60) == 7.0


def test_retry_decision_uses_x_ratelimit_reset_without_retry_after() -> None:
    reset = str(int(time.time()) + 30)
    exc = RateLimitError("slow down", response=error(429, "RATE_LIMIT_EXCEEDED", {"X-RateLimit-Reset": reset}))
    wait = retry_decision(exc, replay_safe=True, max_retry_after=60)
    assert isinstance(wait, float)
    assert 25 <= wait <= 30


def test_retry_decision_gives_up_when_the_server_asks_for_too_long_a_wait() -> None:
    exc = RateLimitError("slow down", response=error(429, "RATE_LIMIT_EXCEEDED", {"Retry-After": "3600"}))
    assert retry_decision(exc, replay_safe=True, max_retry_after=60) is False


def test_retries_503_then_succeeds(make_client: Callable[..., Client]) -> None:
    script = Script(error(503, "SERVICE_UNAVAILABLE"), httpx.Response(200, json=BALANCE))
    assert make_client(script).credits.balance().total_balance == 500
    assert len(script.requests) == 2


def test_retries_connection_error_then_succeeds(make_client: Callable[..., Client]) -> None:
    script = Script(httpx.ConnectError, httpx.ReadTimeout, httpx.Response(200, json=BALANCE))
    assert make_client(script).credits.balance().total_balance == 500
    assert len(script.requests) == 3


@pytest.mark.parametrize(
    ("status", "key", "expected"),
    [
        (400, "INVALID_REQUEST", InvalidRequestError),
        (401, "INVALID_API_KEY", AuthenticationError),
        (402, "INSUFFICIENT_CREDITS", InsufficientCreditsError),
        (404, "NOT_FOUND", NotFoundError),
        (409, "STATE_CONFLICT", ConflictError),
        (422, "IDEMPOTENCY_KEY_REUSED", InvalidRequestError),
    ],
)
def test_never_retries_client_errors(
    make_client: Callable[..., Client], status: int, key: str, expected: type[Exception]
) -> None:
    script = Script(error(status, key), httpx.Response(200, json=BALANCE))
    with pytest.raises(expected):
        make_client(script).credits.balance()
    assert len(script.requests) == 1


def test_gives_up_after_max_attempts(make_client: Callable[..., Client]) -> None:
    script = Script(*[error(503, "SERVICE_UNAVAILABLE")] * 5)
    with pytest.raises(Exception, match="SERVICE_UNAVAILABLE"):
        make_client(script, max_attempts=3).credits.balance()
    assert len(script.requests) == 3


def test_each_retry_is_announced_before_it_happens(make_client: Callable[..., Client]) -> None:
    notices: list[RetryNotice] = []
    script = Script(
        httpx.ConnectError, error(429, "RATE_LIMIT_EXCEEDED", {"Retry-After": "2"}), httpx.Response(200, json=BALANCE)
    )
    assert make_client(script, on_retry=notices.append).credits.balance().total_balance == 500
    assert [(n.attempt, n.max_attempts, type(n.error).__name__, n.wait) for n in notices] == [
        (2, 4, "APIConnectionError", None),
        (3, 4, "RateLimitError", 2.0),
    ]


def test_no_notice_when_there_is_no_retry_left_or_none_allowed(make_client: Callable[..., Client]) -> None:
    notices: list[RetryNotice] = []
    script = Script(*[httpx.ConnectError] * 3, error(404, "NOT_FOUND"))
    with pytest.raises(APIConnectionError):
        make_client(script, max_attempts=3, on_retry=notices.append).credits.balance()
    assert [n.attempt for n in notices] == [2, 3]  # the third failure is the last: nothing more is announced
    with pytest.raises(NotFoundError):
        make_client(script, on_retry=notices.append).credits.balance()
    assert len(notices) == 2


def test_retry_policy_object_sets_attempts(make_client: Callable[..., Client]) -> None:
    script = Script(httpx.ConnectError, httpx.ConnectError)
    with pytest.raises(APIConnectionError):
        make_client(script, retry=RetryPolicy(max_attempts=2)).credits.balance()
    assert len(script.requests) == 2


def test_unlock_post_is_retried_with_the_same_idempotency_key(make_client: Callable[..., Client]) -> None:
    accepted = {"status": "accepted", "task_id": "77", "job_id": "77"}
    script = Script(httpx.ReadTimeout, error(503, "SERVICE_UNAVAILABLE"), httpx.Response(201, json=accepted))
    submission = make_client(script).unlocks.create("100", ["1", "2"])
    assert submission.task_id == "77"
    keys = {r.headers["Idempotency-Key"] for r in script.requests}
    assert len(script.requests) == 3
    assert len(keys) == 1
    assert {r.content for r in script.requests} == {b'{"event_id":"100","personnel_ids":["1","2"]}'}


def test_unlock_post_keeps_a_caller_supplied_idempotency_key(make_client: Callable[..., Client]) -> None:
    script = Script(httpx.ConnectError, httpx.Response(201, json={"status": "success"}))
    make_client(script).unlocks.create("100", ["1"], idempotency_key="mine-1")
    assert [r.headers["Idempotency-Key"] for r in script.requests] == ["mine-1", "mine-1"]


def test_every_unlock_submission_gets_a_fresh_key(make_client: Callable[..., Client]) -> None:
    ok = httpx.Response(201, json={"status": "success"})
    script = Script(ok, ok)
    client = make_client(script)
    client.unlocks.create("100", ["1"])
    client.unlocks.create("100", ["1"])
    first, second = (r.headers["Idempotency-Key"] for r in script.requests)
    assert first != second


def test_idempotency_key_in_use_is_retried(make_client: Callable[..., Client]) -> None:
    script = Script(error(409, "IDEMPOTENCY_KEY_IN_USE"), httpx.Response(201, json={"status": "success"}))
    make_client(script).unlocks.create("100", ["1"])
    assert len(script.requests) == 2


def test_post_without_idempotency_key_is_never_retried() -> None:
    exc = APIConnectionError("boom")
    assert retry_decision(exc, replay_safe=False, max_retry_after=60) is False


def test_long_poll_extends_only_the_read_timeout(make_client: Callable[..., Client]) -> None:
    seen: list[dict[str, float | None]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"taskId": "5", "taskStatus": "completed", "items": []})

    client = make_client(handle, timeout=30.0)
    client.unlocks.get("5", wait=20)
    client.unlocks.get("5")
    assert seen[0] == {"connect": 30.0, "read": 50.0, "write": 30.0, "pool": 30.0}
    assert seen[1]["read"] == 30.0
