"""Fixtures for the SDK tests: no network, no sleeping, no real config or state files."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import stamina

# Until the project is installed into the venv (`make setup` does an editable install), import from src/.
if importlib.util.find_spec("contactvault") is None:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from contactvault import AsyncClient, Client

from .fake_api import FakeAPI

API_KEY = "sk_test_secret"
BASE_URL = "https://cv.test"


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    # Backoffs (and server retry hints) become zero; cap=True keeps each client's own max_attempts.
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "CONTACTVAULT_API_KEY",
        "LENSMOR_API_KEY",
        "CONTACTVAULT_BASE_URL",
        "CONTACTVAULT_STATE_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONTACTVAULT_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[Callable[..., Client]]:
    """Build a Client over a MockTransport handler; closed at teardown."""
    clients: list[Client] = []

    def build(handler: Handler, **kwargs: object) -> Client:
        options: dict[str, object] = {"base_url": BASE_URL, "sleep": clock.sleep, "clock": clock}
        options.update(kwargs)
        client = Client(API_KEY, transport=httpx.MockTransport(handler), **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(fake: FakeAPI, make_client: Callable[..., Client]) -> Client:
    return make_client(fake.handle)


def async_client(handler: Handler, clock: FakeClock, **kwargs: object) -> AsyncClient:
    """Build an AsyncClient over a MockTransport handler (close it with ``aclose``)."""
    options: dict[str, object] = {"base_url": BASE_URL, "sleep": clock.asleep, "clock": clock}
    options.update(kwargs)
    return AsyncClient(API_KEY, transport=httpx.MockTransport(handler), **options)  # type: ignore[arg-type]
