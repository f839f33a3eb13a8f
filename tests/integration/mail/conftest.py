"""The loopback mail world for integration tests, and a guard that fails a test on any traffic off 127.0.0.0/8.

A test runs its scenario with ``run_world``: the world's DNS and SMTP servers start in the test's own event loop
(DNS in a thread), the scenario gets a per-test deadline, and everything stops afterwards. A test whose worker
drives its own event loop takes ``world`` instead (the world serving from a thread of its own), points the
runtime's settings at it with ``point`` and unlocks through the service with ``submit_unlock``, ``drained`` and
``items`` (or ``unlocked``, all three at once).
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from contactvault.server.clock import FakeClock
from contactvault.server.config import Settings
from contactvault.server.demo.mailworld import MailWorld, running_mail_world
from contactvault.server.domain.scoring import VerificationMin
from contactvault.server.runtime import Runtime
from tests.engine import submit, task, worker
from tests.factories import Account
from tests.integration.mail.people import EVENT

T = TypeVar("T")
SCENARIO_DEADLINE_SECONDS = 20.0
WORLD_START_SECONDS = 10.0
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class OffLoopbackTraffic(RuntimeError):
    """A socket tried to reach (or resolve) something outside 127.0.0.0/8."""


class _LoopbackGuard:
    """A process audit hook (hooks cannot be removed), armed only while a test of this package runs."""

    def __init__(self) -> None:
        self.armed = False
        self.installed = False
        self.offences: list[str] = []

    def arm(self) -> None:
        if not self.installed:
            # Installed on first use, so a run that collects no test of this package pays nothing for it.
            sys.addaudithook(self._hook)
            self.installed = True
        self.offences.clear()
        self.armed = True

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.armed:
            return
        if event in ("socket.connect", "socket.sendto"):
            address = args[1]
            if isinstance(address, tuple) and not _is_loopback(address[0]):
                self._refuse(f"{event} to {address[0]}")
        elif event == "socket.getaddrinfo" and args[0] is not None and not _is_loopback(args[0]):
            # A name to resolve would go to the system resolver: never in these tests.
            self._refuse(f"getaddrinfo for {args[0]!r}")

    def _refuse(self, what: str) -> None:
        self.offences.append(what)
        raise OffLoopbackTraffic(what)


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    try:
        return ipaddress.ip_address(str(host)) in LOOPBACK
    except ValueError:
        return False


_GUARD = _LoopbackGuard()


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[_LoopbackGuard]:
    """Fails the test if anything tried to leave 127.0.0.0/8 (even if the code under test swallowed the error)."""
    _GUARD.arm()
    try:
        yield _GUARD
    finally:
        _GUARD.armed = False
    assert _GUARD.offences == []


class FakeTime:
    """A monotonic clock the test moves (the greylisting server's clock)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def greylist_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def run_world(greylist_time: FakeTime) -> Callable[[Callable[[MailWorld], Awaitable[T]]], T]:
    """Run ``scenario(world)`` in a fresh event loop with the world up, under a per-test deadline."""

    def run(scenario: Callable[[MailWorld], Awaitable[T]]) -> T:
        async def main() -> T:
            async with asyncio.timeout(SCENARIO_DEADLINE_SECONDS), running_mail_world(60.0, greylist_time) as world:
                result = await scenario(world)
                # Every test of this package also proves that no DATA command ever arrived.
                assert world.data_commands == 0
                return result

        return asyncio.run(main())

    return run


def world_settings(world: MailWorld, **overrides: Any) -> Settings:
    """Settings pointing DNS at the world, loopback allowed, probing on with a test identity."""
    values: dict[str, Any] = {
        "mail_dns_servers": world.dns_servers,
        "mail_dns_timeout_seconds": 1.0,
        "mail_allow_loopback": True,
        "smtp_probe": True,
        "smtp_helo": "probe.contactvault.test",
        "smtp_mail_from": "verify@contactvault.test",
        "smtp_port": world.smtp_port,
        "smtp_session_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def world(greylist_time: FakeTime) -> Iterator[MailWorld]:
    """The mail world, serving from a thread of its own until the test ends (for workers that drive their own loop)."""
    started: list[MailWorld] = []
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        async with running_mail_world(60.0, greylist_time) as running:
            started.append(running)
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.01)  # the world's own loop idles until the test is over

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="mailworld", daemon=True)
    thread.start()
    assert ready.wait(WORLD_START_SECONDS), "the mail world did not start"
    try:
        yield started[0]
        assert started[0].data_commands == 0
    finally:
        stop.set()
        thread.join(WORLD_START_SECONDS)


def point(rt: Runtime, world: MailWorld, **overrides: Any) -> None:
    """Point ``rt``'s settings at ``world`` (``world_settings`` with ``overrides``), keeping its other settings."""
    pointed = world_settings(world, **overrides)
    rt.settings = rt.settings.model_copy(update=pointed.model_dump(include=set(pointed.model_fields_set)))


def submit_unlock(rt: Runtime, account: Account, pids: list[int], floor: VerificationMin | None = None) -> str:
    """Submit an email unlock of ``pids`` at the mail world's event (``people.EVENT``); returns the task id."""
    body = submit(rt, account, pids, event=EVENT, verification_min=floor)
    assert body["status"] == "accepted", body
    return str(body["task_id"])


def drained(rt: Runtime, **settings: Any) -> int:
    """Drain the queue with one worker, ``settings`` changed first; how many items it claimed."""
    if settings:
        rt.settings = rt.settings.model_copy(update=settings)
    w = worker(rt)
    try:
        return w.drain()
    finally:
        w.close()


def items(rt: Runtime, account: Account, task_id: str) -> dict[str, dict[str, Any]]:
    """A task's items (their wire shape) by person id."""
    return {i["personnelId"]: i for i in task(rt, account, task_id)["items"]}


def unlocked(rt: Runtime, account: Account, pids: list[int], **settings: Any) -> dict[str, dict[str, Any]]:
    """With ``settings`` changed first: submit, drain with one worker, and return the task's items by person id."""
    if settings:
        rt.settings = rt.settings.model_copy(update=settings)
    task_id = submit_unlock(rt, account, pids)
    drained(rt)
    return items(rt, account, task_id)
