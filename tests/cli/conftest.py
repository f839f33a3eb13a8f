"""One real server on loopback for the CLI tests (started once per session), a fresh account per test.

The server is a real ``contactvault serve`` process with its worker, on the test directory of
``tests/factories.py`` (event 100: people 1..300; emails when id % 10 != 0; phones when id % 3 == 0; title
"VP of Partnerships" when id % 5 == 0). Accounts isolate the tests from each other: unlocks, tasks and credits
all belong to an account. The server runs on the real clock, so these tests never use the FakeClock fixtures.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stamina
from typer.testing import CliRunner, Result

from contactvault.cli.main import app
from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.runtime import Runtime
from tests.e2e import processes
from tests.factories import Account, make_account, make_directory


@dataclasses.dataclass(frozen=True)
class LiveServer:
    """A running server and a runtime on its database (for accounts and counting rows)."""

    base_url: str
    rt: Runtime
    env: dict[str, str]


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``contactvault serve`` on a free loopback port, with the test directory."""
    tmp = tmp_path_factory.mktemp("cli-server")
    settings = Settings(
        database_url=f"sqlite:///{tmp}/contactvault.db", encryption_key_file=tmp / "keys.json", worker_max_attempts=3
    )
    rt = build_runtime(settings)
    make_directory(rt)
    # Every CLI test of the session calls this one server from 127.0.0.1: at the default 600 requests a minute
    # per address the suite itself trips the per-IP limit (its own tests are tests/security/test_ratelimit.py).
    # The per-key limit stays on: each test has its own account and key.
    env = processes.env_for(settings.database_url, tmp / "keys.json", CONTACTVAULT_RATE_LIMIT_PER_IP="0")
    try:
        with processes.server(env) as base:
            yield LiveServer(base, rt, env)
    finally:
        rt.db.dispose()


@pytest.fixture
def user(live: LiveServer) -> Account:
    """A fresh account with 10,000 credits on the live server."""
    return make_account(live.rt)


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    """Where this test's unlock runs are kept."""
    return tmp_path / "state" / "state.db"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, state_file: Path) -> None:
    # Never the developer's own config, key or state file.
    for name in ("CONTACTVAULT_API_KEY", "LENSMOR_API_KEY", "CONTACTVAULT_BASE_URL", "CONTACTVAULT_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONTACTVAULT_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.setenv("CONTACTVAULT_STATE_FILE", str(state_file))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def no_backoff() -> Iterator[None]:
    """Retries without their waits (the live server runs on the real clock, so only where a test needs it)."""
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


@dataclasses.dataclass
class CLI:
    """Runs ``contactvault`` in-process, as a user or a script would."""

    runner: CliRunner

    def __call__(self, *args: str, input: str | None = None) -> Result:
        """Invoke the app with these arguments."""
        return self.runner.invoke(app, list(args), input=input, catch_exceptions=False, prog_name="contactvault")

    def json(self, *args: str, input: str | None = None, code: int = 0) -> Any:
        """Invoke with --json, check the exit code, and parse stdout."""
        result = self(*args, "--json", input=input)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return json.loads(result.stdout)


@pytest.fixture
def cli() -> CLI:
    """The CLI with no connection configured."""
    return CLI(CliRunner())


@pytest.fixture
def connected(cli: CLI, live: LiveServer, user: Account, monkeypatch: pytest.MonkeyPatch) -> CLI:
    """The CLI pointed at the live server with ``user``'s key (through the environment)."""
    monkeypatch.setenv("CONTACTVAULT_BASE_URL", live.base_url)
    monkeypatch.setenv("CONTACTVAULT_API_KEY", user.api_key)
    return cli
