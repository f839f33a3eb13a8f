"""Fixtures for the provider resolver: the loopback fake provider, a provider document pointing at it, resolvers."""

from __future__ import annotations

import copy
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stamina

from contactvault.server.clock import FakeClock
from contactvault.server.crypto import Cipher, KeyMaterial
from contactvault.server.db.person_details import PersonDetails
from contactvault.server.runtime import Runtime
from contactvault.server.worker.resolvers.provider import ProviderResolver, StoredPeople
from contactvault.server.worker.resolvers.provider_config import parse_providers
from tests.integration.providers.fake_provider import FakeProvider

KEY = "sk_test_Zq9wVv3Lr8Pp2Kx7"
KEY_ENV = "CONTACTVAULT_TEST_PROVIDER_KEY"
NAME = "acme-finder"


def provider_document(base_url: str, **overrides: Any) -> dict[str, Any]:
    """A providers file with one provider at ``base_url``; ``overrides`` replace top-level provider fields."""
    provider: dict[str, Any] = {
        "name": NAME,
        "url": base_url + "/v1/find?first={first_name}&last={last_name}&domain={company_domain}&key={api_key}",
        "headers": {"Authorization": "Bearer {api_key}"},
        "api_key_env": KEY_ENV,
        "response": {
            "email": "data.email",
            "status": "data.verification.status",
            "score": "data.score",
            "status_map": {
                "valid": "valid",
                "accept_all": "accept_all",
                "unknown": "unknown",
                "invalid": "invalid",
                "webmail": "invalid",
                "disposable": "invalid",
            },
        },
        "retries": {"attempts": 3, "wait_initial": 0, "wait_max": 0, "wait_jitter": 0},
        "timeouts": {"connect": 1, "read": 2, "total": 10},
        "breaker": {"failures": 5, "open_seconds": 30},
    }
    provider.update(copy.deepcopy(overrides))
    return {"providers": [provider]}


# A hung socket fails its test instead of the run (pytest-timeout is not a dependency).
TEST_DEADLINE_SECONDS = 60


class DeadlineExceeded(BaseException):
    """Raised in the test's thread when it outlives its deadline (a BaseException: no resolver may swallow it)."""


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise DeadlineExceeded(f"the test ran longer than {TEST_DEADLINE_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, TEST_DEADLINE_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def _no_waits() -> Iterator[None]:
    """stamina's testing mode: back-off waits are 0 (attempts unchanged); the wait asked for is still logged."""
    with stamina.set_testing(True, attempts=10, cap=True):
        yield


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """A fresh loopback fake provider for this test."""
    with FakeProvider() as fake:
        yield fake


class People:
    """An in-memory people source shaped like the test directory's (persons 10, 20, ... at Northwind)."""

    def __init__(self) -> None:
        self.people = {
            pid: PersonDetails(pid, f"Person {pid} Example", "Northwind Logistics", "northwind.test")
            for pid in range(10, 101, 10)
        }
        self.reads = 0

    def details(self, personnel_ids: Any) -> dict[int, PersonDetails]:
        self.reads += 1
        return {pid: self.people[pid] for pid in personnel_ids if pid in self.people}


@pytest.fixture
def cipher() -> Cipher:
    """A cipher with fresh keys."""
    return Cipher(KeyMaterial.generate())


@pytest.fixture
def people() -> People:
    """The in-memory people source."""
    return People()


@pytest.fixture
def make_resolver(
    fake_provider: FakeProvider, people: People, cipher: Cipher, clock: FakeClock
) -> Callable[..., ProviderResolver]:
    """Build a resolver for the fake provider over the in-memory people, with provider fields overridden."""

    def build(**overrides: Any) -> ProviderResolver:
        doc = provider_document(fake_provider.url, **overrides)
        (provider,) = parse_providers(doc, "test", {KEY_ENV: KEY})
        return ProviderResolver(provider, people, cipher, clock)

    return build


@pytest.fixture
def stored_resolver(directory: Runtime, fake_provider: FakeProvider) -> ProviderResolver:
    """A resolver for the fake provider that reads people from the test directory (both backends)."""
    (provider,) = parse_providers(provider_document(fake_provider.url), "test", {KEY_ENV: KEY})
    return ProviderResolver(provider, StoredPeople(directory.db), directory.cipher, directory.clock)
