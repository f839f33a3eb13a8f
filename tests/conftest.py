"""Fixtures: a fresh database per test (a real SQLite file), the runtime, the test directory and accounts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contactvault.server.api.app import create_app
from contactvault.server.bootstrap import build_runtime
from contactvault.server.clock import FakeClock, IdSource
from contactvault.server.config import Settings
from contactvault.server.runtime import Runtime
from tests.factories import Account, make_account, make_directory


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh database for this test."""
    return f"sqlite:///{tmp_path}/contactvault.db"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a fresh database, keys in a temporary file."""
    return Settings(
        database_url=database_url, encryption_key_file=tmp_path / "keys.json", worker_max_attempts=3
    )


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when told."""
    return FakeClock()


@pytest.fixture
def rt(settings: Settings, clock: FakeClock) -> Iterator[Runtime]:
    """A migrated runtime on the fresh database, with a fake clock and seeded ids."""
    runtime = build_runtime(settings)
    runtime.clock = clock
    runtime.ids = IdSource(seed=7)
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def directory(rt: Runtime) -> Runtime:
    """The runtime with the small test directory loaded."""
    make_directory(rt)
    return rt


@pytest.fixture
def account(directory: Runtime) -> Account:
    """An account with 10,000 credits."""
    return make_account(directory)


@pytest.fixture
def other_account(directory: Runtime) -> Account:
    """A second account with 10,000 credits."""
    return make_account(directory, name="other")


@pytest.fixture
def client(directory: Runtime) -> Iterator[TestClient]:
    """An in-process HTTP client for the app (no worker thread: tests drive the worker)."""
    with TestClient(create_app(runtime=directory), raise_server_exceptions=False) as test_client:
        yield test_client
