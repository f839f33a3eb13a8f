"""Rate limits: headers on every authenticated response, 429s that create nothing, isolation, concurrency, windows."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from limits.storage import MemoryStorage

from contactvault.server.api.ratelimit import MemoryCounters, RateLimiter, ietf_headers
from contactvault.server.clock import FakeClock
from contactvault.server.config import Settings
from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from tests.engine import count
from tests.factories import BIG_EVENT, Account
from tests.security.conftest import AppFactory

BALANCE = "/external/credits/balance"
SECURITY = ("x-content-type-options", "x-frame-options", "referrer-policy", "cache-control")
CREATED = (tables.tasks, tables.task_items, tables.task_holds, tables.idempotency_keys, tables.ledger_entries)


def assert_429(response: object, *, limit_headers: bool = True) -> None:
    """A 429 with the error body, a trace id, an integer Retry-After and the security headers."""
    assert response.status_code == 429, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    assert (body["code"], body["errorKey"]) == (429, "RATE_LIMIT_EXCEEDED")
    assert body["traceId"]
    assert headers["X-Request-ID"] == body["traceId"]
    assert re.fullmatch(r"[1-9][0-9]*", headers["Retry-After"])
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert all(h in headers for h in SECURITY)
    if limit_headers:
        assert headers["X-RateLimit-Remaining"] == "0"


def snapshot(rt: Runtime) -> dict[str, int]:
    """Row counts of everything a submission writes."""
    return {t.name: count(rt, t) for t in CREATED}


def test_every_authenticated_response_carries_the_key_limit(
    make_client: AppFactory, account: Account, clock: FakeClock
) -> None:
    client = make_client(rate_limit_per_key=5, rate_limit_per_ip=100)
    window_end = int(clock.now().timestamp()) // 60 * 60 + 60
    ok = client.get(BALANCE, headers=account.headers)
    missing = client.get("/external/contacts/unlock-tasks/123", headers=account.headers)
    invalid = client.get("/external/personnel/list", headers=account.headers)
    for n, response in enumerate((ok, missing, invalid), start=1):
        assert response.headers["X-RateLimit-Limit"] == "5"
        assert response.headers["X-RateLimit-Remaining"] == str(5 - n)
        assert response.headers["X-RateLimit-Reset"] == str(window_end)
        assert response.headers["RateLimit-Policy"] == '"key";q=5;w=60, "ip";q=100;w=60'
        assert response.headers["RateLimit"] == f'"key";r={5 - n};t=60, "ip";r={100 - n};t=60'
    assert (missing.status_code, invalid.status_code) == (404, 400)


def test_over_the_key_limit_is_429_with_retry_after(
    make_client: AppFactory, account: Account, clock: FakeClock
) -> None:
    client = make_client(rate_limit_per_key=3)
    clock.advance(45)  # 15 s left in this minute's window
    assert [client.get(BALANCE, headers=account.headers).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(BALANCE, headers=account.headers)
    assert_429(refused)
    assert refused.headers["Retry-After"] == "15"
    assert refused.json()["message"].startswith("Rate limit of 3 requests per 60 s exceeded")


def test_a_rate_limited_submission_creates_nothing(
    directory: Runtime, make_client: AppFactory, account: Account, clock: FakeClock
) -> None:
    client = make_client(rate_limit_per_key=2)
    for _ in range(2):
        assert client.get(BALANCE, headers=account.headers).status_code == 200
    before = snapshot(directory)
    body = {"event_id": str(BIG_EVENT), "personnel_ids": ["1", "2"]}
    headers = {**account.headers, "Idempotency-Key": "limited-1"}
    assert_429(client.post("/external/contacts/unlock", json=body, headers=headers))
    assert_429(client.post("/external/contacts/unlock-phone", json=body, headers=headers))
    assert snapshot(directory) == before
    assert client.get(BALANCE, headers={}).status_code == 401  # unauthenticated: not even counted per key
    clock.advance(60)
    first = client.post("/external/contacts/unlock", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers  # the 429 stored no idempotency record to replay
    assert count(directory, tables.tasks) == before["tasks"] + 1


def test_one_accounts_traffic_leaves_anothers_limit_untouched(
    make_client: AppFactory, account: Account, other_account: Account
) -> None:
    client = make_client(rate_limit_per_key=4)
    statuses = [client.get(BALANCE, headers=account.headers).status_code for _ in range(10)]
    assert statuses == [200] * 4 + [429] * 6
    other = client.get(BALANCE, headers=other_account.headers)
    assert other.status_code == 200
    assert other.headers["X-RateLimit-Remaining"] == "3"


def test_the_window_resets_with_the_clock(make_client: AppFactory, account: Account, clock: FakeClock) -> None:
    client = make_client(rate_limit_per_key=1)
    assert client.get(BALANCE, headers=account.headers).status_code == 200
    assert client.get(BALANCE, headers=account.headers).status_code == 429
    clock.advance(59)
    assert client.get(BALANCE, headers=account.headers).status_code == 429
    clock.advance(1)
    assert client.get(BALANCE, headers=account.headers).status_code == 200


def test_the_ip_limit_counts_every_request_before_authentication(make_client: AppFactory, account: Account) -> None:
    client = make_client(rate_limit_per_key=100, rate_limit_per_ip=3)
    assert client.get(BALANCE).status_code == 401
    assert client.get("/no/such/route").status_code == 404
    assert client.get(BALANCE, headers=account.headers).status_code == 200
    refused = client.get(BALANCE, headers=account.headers)
    assert_429(refused, limit_headers=False)
    assert refused.headers["RateLimit"] == '"ip";r=0;t=60'
    assert client.get("/healthz").status_code == 200  # probes are never limited


def test_zero_turns_both_limits_off(make_client: AppFactory, account: Account) -> None:
    client = make_client(rate_limit_per_key=0, rate_limit_per_ip=0)
    responses = [client.get(BALANCE, headers=account.headers) for _ in range(150)]
    assert {r.status_code for r in responses} == {200}
    assert not {"X-RateLimit-Limit", "RateLimit", "RateLimit-Policy"} & set(responses[-1].headers)


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTVAULT_RATE_LIMIT_PER_KEY", "7")
    monkeypatch.setenv("CONTACTVAULT_RATE_LIMIT_PER_IP", "0")
    settings = Settings()
    assert (settings.rate_limit_per_key, settings.rate_limit_per_ip) == (7, 0)


def test_concurrent_requests_against_a_limit_admit_at_most_the_limit(make_client: AppFactory, account: Account) -> None:
    client = make_client(rate_limit_per_key=10, rate_limit_per_ip=1000)
    start = threading.Barrier(8)

    def burst(_: int) -> list[int]:
        start.wait()
        return [client.get(BALANCE, headers=account.headers).status_code for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [s for batch in pool.map(burst, range(8)) for s in batch]
    assert sorted(statuses) == [200] * 10 + [429] * 30


@pytest.mark.parametrize("storage", [MemoryCounters, MemoryStorage], ids=["memory-counters", "limits-memory"])
def test_the_limiter_never_admits_more_than_the_limit_under_contention(storage: Callable[[], Any]) -> None:
    moment = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    limiter = RateLimiter(storage(), per_key=100, per_ip=0, now=lambda: moment)
    start = threading.Barrier(16)

    def hammer(_: int) -> int:
        start.wait()
        admitted = 0
        for _ in range(50):
            quota = limiter.hit_key("k1")
            assert quota is not None
            admitted += quota.allowed
        return admitted

    with ThreadPoolExecutor(16) as pool:
        assert sum(pool.map(hammer, range(16))) == 100
    assert limiter.hit_ip("1.2.3.4") is None  # off


def test_memory_counters_start_each_window_afresh_and_keep_only_the_one_before() -> None:
    counters = MemoryCounters()
    assert [counters.hit("key/a", 10) for _ in range(3)] == [1, 2, 3]
    assert counters.hit("key/b", 10) == 1
    assert counters.hit("key/a", 11) == 1  # a new window counts from one
    assert counters.hit("key/a", 10) == 4  # a request that read the clock just before the turn still counts
    assert counters.hit("key/a", 12) == 1
    assert counters.hit("key/a", 10) == 1  # window 10 was dropped when 12 began: memory does not grow
    counters.reset()
    assert counters.hit("key/a", 12) == 1


def test_memory_and_sqlite_counters_are_local_postgresql_counters_are_not(settings: Settings) -> None:
    limiter = RateLimiter.from_settings(
        settings.model_copy(update={"rate_limit_storage": "memory://"}), now=datetime.now
    )
    assert isinstance(limiter.storage, MemoryCounters)
    assert limiter.local  # counted on the event loop, no thread-pool hop
    shared = RateLimiter.from_settings(
        settings.model_copy(update={"rate_limit_storage": "database://"}), now=datetime.now
    )
    try:
        assert shared.local == settings.database_url.startswith("sqlite")  # a sidecar file; PostgreSQL: the network
    finally:
        shared.close()


@pytest.mark.parametrize("networked", [False, True], ids=["local", "networked"])
def test_hits_are_counted_on_the_event_loop_only_in_a_local_storage(
    make_client: AppFactory, account: Account, networked: bool
) -> None:
    client = make_client(rate_limit_per_key=100, rate_limit_per_ip=100)
    limiter: RateLimiter = client.app.state.rate_limiter  # type: ignore[attr-defined]
    if networked:
        limiter.storage = MemoryStorage()  # a `limits` storage, as redis:// is: not counted on the loop
    counted: dict[str, str] = {}
    count = limiter._count

    def spy(name: str, window: int) -> int | None:
        counted[name.split("/")[0]] = threading.current_thread().name
        return count(name, window)

    limiter._count = spy  # type: ignore[method-assign]
    loop_thread = client.portal.call(lambda: threading.current_thread().name)  # type: ignore[union-attr]
    assert client.get(BALANCE, headers=account.headers).status_code == 200
    assert counted.keys() == {"key", "ip"}
    for policy, thread in counted.items():
        assert (thread != loop_thread) == networked, policy


def test_ietf_fields_follow_the_draft_syntax() -> None:
    moment = datetime(2026, 1, 1, 0, 0, 50, tzinfo=UTC)
    limiter = RateLimiter(MemoryStorage(), per_key=120, per_ip=600, now=lambda: moment)
    key, ip = limiter.hit_key("abc"), limiter.hit_ip("::1")
    assert key is not None
    assert ip is not None
    assert dict(ietf_headers([key, ip])) == {
        b"ratelimit-policy": b'"key";q=120;w=60, "ip";q=600;w=60',
        b"ratelimit": b'"key";r=119;t=10, "ip";r=599;t=10',
    }


def test_the_openapi_document_is_limited_per_ip_only(make_client: AppFactory) -> None:
    client: TestClient = make_client(rate_limit_per_ip=2)
    assert [client.get("/openapi.json").status_code for _ in range(3)] == [200, 200, 429]
