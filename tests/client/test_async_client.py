"""AsyncClient parity: the same resources, retries, pagination and workflow as Client, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from contactvault import AsyncClient, Client, ConfigError, NotFoundError, RetryNotice, StateStore

from .conftest import FakeClock, async_client
from .fake_api import FakeAPI, SimulatedCrash

T = TypeVar("T")


def run(fake: FakeAPI, clock: FakeClock, body: Callable[[AsyncClient], Awaitable[T]], **kwargs: object) -> T:
    """Run ``body`` against a fresh AsyncClient in its own event loop, closing the client afterwards."""

    async def main() -> T:
        async with async_client(fake.handle, clock, **kwargs) as client:
            return await body(client)

    return asyncio.run(main())


def test_async_resources_mirror_the_sync_client() -> None:
    public = {name for name in dir(Client) if not name.startswith("_")}
    assert public - {"close", "__enter__", "__exit__"} <= set(dir(AsyncClient))
    sync_client = Client("sk_x", transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    fake, clock = FakeAPI(), FakeClock()

    async def resources(client: AsyncClient) -> None:
        for resource in ("credits", "events", "personnel", "contacts", "actions", "unlocks"):
            sync_methods = {m for m in dir(getattr(sync_client, resource)) if not m.startswith("_")}
            async_methods = {m for m in dir(getattr(client, resource)) if not m.startswith("_")}
            assert sync_methods == async_methods, resource

    run(fake, clock, resources)
    sync_client.close()


def test_async_balance_profile_and_errors(fake: FakeAPI, clock: FakeClock) -> None:
    async def body(client: AsyncClient) -> tuple[int, str | None]:
        balance = await client.credits.balance()
        person = await client.personnel.profile("1")
        with pytest.raises(NotFoundError):
            await client.personnel.profile("404")
        return balance.total_balance, person.full_name

    assert run(fake, clock, body) == (10_000, "Person 1")


def test_async_iter_walks_every_page(clock: FakeClock) -> None:
    fake = FakeAPI(people=120)

    async def body(client: AsyncClient) -> list[str]:
        return [person.id async for person in client.personnel.iter("100", page_size=50)]

    assert run(fake, clock, body) == [str(i) for i in range(1, 121)]
    assert [r.url.params["page"] for r in fake.requests] == ["1", "2", "3"]


def test_async_retries_503_then_succeeds(fake: FakeAPI, clock: FakeClock) -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(503, json={"errorKey": "SERVICE_UNAVAILABLE"})
        return fake.handle(request)

    async def main() -> int:
        async with async_client(flaky, clock) as client:
            return (await client.credits.balance()).total_balance

    assert asyncio.run(main()) == 10_000
    assert calls["n"] == 2


def test_async_retries_are_announced_and_plain_http_is_refused(fake: FakeAPI, clock: FakeClock) -> None:
    notices: list[RetryNotice] = []
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(503, json={"errorKey": "SERVICE_UNAVAILABLE"})
        return fake.handle(request)

    async def main() -> int:
        async with async_client(flaky, clock, on_retry=notices.append) as client:
            return (await client.credits.balance()).total_balance

    assert asyncio.run(main()) == 10_000
    assert [(n.attempt, n.max_attempts) for n in notices] == [(2, 4)]
    with pytest.raises(ConfigError, match=r"plain HTTP to api\.example\.com"):
        async_client(fake.handle, clock, base_url="http://api.example.com")


def test_async_unlock_emails_delivers_and_reconciles(fake: FakeAPI, clock: FakeClock, state_file: Path) -> None:
    fake.people["2"].outcome = "UNRESOLVED"

    async def body(client: AsyncClient):
        return await client.unlock_emails("100", ["1", "2", "3"], state_file=state_file)

    result = run(fake, clock, body)
    assert [c.personnel_id for c in result.delivered] == ["1", "3"]
    assert [f.personnel_id for f in result.failed["UNRESOLVED"]] == ["2"]
    assert result.reconciliation.ok


def test_async_confirm_false_spends_nothing(fake: FakeAPI, clock: FakeClock, state_file: Path) -> None:
    async def body(client: AsyncClient):
        return await client.unlock_phones("100", ["1"], confirm=lambda e: False, state_file=state_file)

    assert run(fake, clock, body).is_cancelled
    assert fake.submissions() == []


def test_async_resume_after_crash_creates_one_task(fake: FakeAPI, clock: FakeClock, state_file: Path) -> None:
    fake.crash_after_submit = True

    async def start(client: AsyncClient) -> None:
        await client.unlock_emails("100", ["1", "2"], state_file=state_file)

    with pytest.raises(SimulatedCrash):
        run(fake, clock, start)
    fake.crash_after_submit = False

    async def resume(client: AsyncClient):
        return await client.resume(state_file)

    (result,) = run(fake, clock, resume)
    assert len(fake.tasks) == 1
    assert len({r.headers["Idempotency-Key"] for r in fake.submissions()}) == 1
    assert len(result.delivered) == 2
    with StateStore(state_file) as store:
        assert store.unfinished_runs() == []


def test_async_wait_falls_back_to_injected_sleep(fake: FakeAPI, clock: FakeClock) -> None:
    fake.ignore_wait = True
    fake.polls_to_finish = 3

    async def body(client: AsyncClient) -> str:
        submission = await client.unlocks.create("100", ["1"])
        assert submission.task_id is not None
        task = await client.unlocks.wait(submission.task_id)
        return task.task_status

    assert run(fake, clock, body) == "completed"
    assert clock.sleeps == [3.0]


def test_async_transactions_iter_keeps_the_first_pages_bound(clock: FakeClock) -> None:
    seen: list[httpx.Request] = []

    def ledger(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        n = int(request.url.params["page"])
        item = {"entryId": str(10 - n), "kind": "grant", "availableDelta": 5, "heldDelta": 0, "bucket": "gift",
                "causeType": "grant", "causeId": "1", "taskId": None, "callSource": None}  # fmt: skip
        body = {"items": [item], "total": 2, "page": n, "pageSize": 1, "totalPages": 2, "hasMore": n < 2}
        return httpx.Response(200, json={**body, "upToId": "9"})

    async def main() -> list[str]:
        async with async_client(ledger, clock) as client:
            return [e.entry_id async for e in client.credits.iter_transactions(until="2026-12-01", page_size=1)]

    assert asyncio.run(main()) == ["9", "8"]
    sent = [(r.url.params.get("up_to_id"), r.url.params["until"]) for r in seen]
    assert sent == [(None, "2026-12-01"), ("9", "2026-12-01")]
