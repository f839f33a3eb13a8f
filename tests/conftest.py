"""Fixtures: a fresh database per test on each backend (a SQLite file; a PostgreSQL database copied from a
migrated template), the runtime, the test directory and accounts.

Every test that uses ``database_url`` (directly or through ``settings``, ``rt``, ``directory``...) runs twice,
as ``[sqlite]`` and ``[postgresql]``; tests that touch no storage run once. ``-m "not postgresql"`` runs the
SQLite half only. See ``tests/pg.py`` for where the PostgreSQL server comes from.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contactvault.server.api.app import create_app
from contactvault.server.bootstrap import build_runtime
from contactvault.server.clock import FakeClock, IdSource
from contactvault.server.config import Settings
from contactvault.server.runtime import Runtime
from tests import pg
from tests.factories import Account, make_account, make_directory

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


def pytest_configure(config: pytest.Config) -> None:
    """The controller makes the directory where the session's shared servers note themselves down."""
    config.addinivalue_line("markers", "postgresql: runs on PostgreSQL (the [postgresql] half of the suite)")
    if not hasattr(config, "workerinput") and pg.STATE_ENV not in os.environ:
        # xdist workers start after this and inherit the variable.
        os.environ[pg.STATE_ENV] = tempfile.mkdtemp(prefix="cv-test-services-")
        config.stash[_OWNS_SERVICES] = True
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            # A run stopped with SIGTERM (a timeout, CI cancelling) still stops its servers: as if by Ctrl-C.
            signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def pytest_unconfigure(config: pytest.Config) -> None:
    """The controller stops the shared servers and removes their files."""
    if config.stash.get(_OWNS_SERVICES, False):
        state_dir = Path(os.environ.pop(pg.STATE_ENV))
        try:
            pg.SessionServices(state_dir).shutdown()
        finally:
            for leftover in state_dir.iterdir():
                leftover.unlink()
            state_dir.rmdir()


_OWNS_SERVICES = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def services() -> pg.SessionServices:
    """The session's shared PostgreSQL and Redis servers (started on first use)."""
    return pg.SessionServices(Path(os.environ[pg.STATE_ENV]))


def _unavailable(reason: str) -> None:
    if os.environ.get(pg.REQUIRE_ENV):
        pytest.fail(reason, pytrace=False)
    # Reached only without REQUIRE_ENV (a developer without PostgreSQL); `make test` and CI fail instead.
    pytest.skip(reason)


@pytest.fixture
def postgres_url(services: pg.SessionServices) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database, dropped after the test."""
    try:
        services.template_url()
    except pg.ServiceUnavailable as exc:
        _unavailable(str(exc))
    with services.fresh_database() as url:
        yield url


@pytest.fixture
def redis_url(services: pg.SessionServices) -> str:
    """The session's Redis server (shared: tests use keys of their own)."""
    try:
        return services.redis_url()
    except pg.ServiceUnavailable as exc:
        _unavailable(str(exc))
        raise


@pytest.fixture
def private_postgres() -> Iterator[tuple[pg.PgServer, str]]:
    """A PostgreSQL server of this test's own (it may stop or restart it), and the URL of a migrated database."""
    try:
        server = pg.PgServer.create()
    except pg.ServiceUnavailable as exc:
        if os.environ.get(pg.POSTGRES_URL_ENV):
            # Pointed at a server of their own, a developer may have no binaries to start a private one with.
            pytest.skip(f"needs a PostgreSQL server of its own to stop and restart: {exc}")
        _unavailable(str(exc))
        raise
    try:
        server.start()
        pg.execute(server.url(), "CREATE DATABASE contactvault")
        yield server, server.url("contactvault")
    finally:
        server.destroy()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database for this test, on each backend."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path}/contactvault.db"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a fresh database, keys in a temporary file."""
    return Settings(database_url=database_url, encryption_key_file=tmp_path / "keys.json", worker_max_attempts=3)


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
