"""/healthz says the process is alive; /readyz says it can serve: the database answers and the in-process worker
loops. A connection-pool timeout in a request is a 503 with Retry-After, like any database outage."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient

from contactvault.server.api import app as app_module
from contactvault.server.api.app import create_app
from contactvault.server.clock import FakeClock
from contactvault.server.runtime import Runtime
from contactvault.server.worker.resolvers.base import Lookup, Resolution, Resolver
from contactvault.server.worker.runner import Worker
from tests.engine import submit
from tests.factories import Account


def _eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)  # polling another thread's state with a deadline


def _database_fails(monkeypatch: pytest.MonkeyPatch, rt: Runtime, exc: Exception) -> None:
    @contextmanager
    def broken() -> Iterator[Any]:
        raise exc
        yield  # pragma: no cover

    monkeypatch.setattr(rt.db, "read", broken)
    monkeypatch.setattr(rt.db, "write", broken)


def test_readyz_is_ready_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_is_503_with_the_reason_when_the_database_is_unreachable(
    client: TestClient, directory: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _database_fails(monkeypatch, directory, sqlalchemy.exc.OperationalError("SELECT 1", {}, OSError("refused")))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "reasons": ["database unreachable (OperationalError)"]}
    assert client.get("/healthz").json() == {"status": "ok"}  # the process is still alive


@pytest.mark.parametrize(
    "exc",
    [
        sqlalchemy.exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached, connection timed out"),
        sqlalchemy.exc.OperationalError("SELECT 1", {}, OSError("connection refused")),
    ],
    ids=["pool-timeout", "unreachable"],
)
def test_a_database_outage_or_pool_timeout_in_a_request_is_503_with_retry_after(
    client: TestClient, directory: Runtime, account: Account, monkeypatch: pytest.MonkeyPatch, exc: Exception
) -> None:
    _database_fails(monkeypatch, directory, exc)
    response = client.get("/external/credits/balance", headers=account.headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    body = response.json()
    assert set(body) == {"code", "message", "errorKey", "traceId"}
    assert (body["code"], body["errorKey"]) == (503, "SERVICE_UNAVAILABLE")
    assert "QueuePool" not in body["message"]


class Blocking(Resolver):
    """Holds the worker inside a batch until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    async def resolve(self, lookup: Lookup) -> Resolution:
        raise NotImplementedError

    async def resolve_many(self, lookups: Sequence[Lookup], concurrency: int) -> dict[int, Resolution]:
        self.entered.set()
        self.release.wait(30)
        return {}


def test_readyz_is_503_while_the_in_process_worker_has_not_looped_within_its_lease(
    directory: Runtime, account: Account, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver = Blocking()
    monkeypatch.setattr(app_module, "Worker", lambda rt: Worker(rt, [resolver], worker_id="probe"))
    with TestClient(create_app(runtime=directory, run_worker=True), raise_server_exceptions=False) as client:
        assert client.get("/readyz").status_code == 200
        submit(directory, account, [1])
        directory.notifier.kick_worker()
        assert resolver.entered.wait(10)
        clock.advance(directory.settings.worker_lease_seconds + 1)
        stuck = client.get("/readyz")
        assert stuck.status_code == 503
        (reason,) = stuck.json()["reasons"]
        assert reason.startswith("worker loop has not completed an iteration for 31 s")
        assert client.get("/healthz").status_code == 200
        resolver.release.set()
        _eventually(lambda: client.get("/readyz").status_code == 200)


def test_readyz_is_503_when_the_worker_thread_has_stopped(directory: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Worker, "run", Worker.close)  # as if the thread had died
    with TestClient(create_app(runtime=directory, run_worker=True), raise_server_exceptions=False) as client:
        thread = client.app.state.worker_thread  # type: ignore[attr-defined]
        _eventually(lambda: not thread.is_alive())
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["reasons"] == ["worker thread has stopped"]


def test_readyz_is_not_rate_limited(directory: Runtime) -> None:
    directory.settings = directory.settings.model_copy(update={"rate_limit_per_ip": 2})
    with TestClient(create_app(runtime=directory), raise_server_exceptions=False) as client:
        assert [client.get("/readyz").status_code for _ in range(5)] == [200] * 5
