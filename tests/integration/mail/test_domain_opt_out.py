"""A company domain on the opt-out list, through the loopback mail world (both backends): its people cause no DNS
question and no SMTP connection at all (no pattern guess, no re-verification of a stale vault value), their items
fail ``INELIGIBLE`` uncharged, and ``unsuppress`` lets the engine find them again. Every test counts the traffic the
world recorded for the domain and for a control domain in the same batch, so none can pass with the world down."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from contactvault.server.db.tables import companies, contact_points
from contactvault.server.demo.mailworld import MailWorld, running_mail_world
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import suppressions, unlocks
from tests.engine import assert_reconciles, balance, task, worker
from tests.factories import Account, make_account
from tests.integration.mail.conftest import FakeTime, world_settings
from tests.integration.mail.people import EVENT, Person, seed

WORLD_START_SECONDS = 10.0
NORMAL_MX = "127.0.0.2"  # normal.test's mail server in the world
PEOPLE = [
    Person(1, "Ada Lovelace", 1, "ada.lovelace@normal.test"),  # in the vault, last checked long ago
    Person(2, "Alan Turing", 1, "alan.turing@normal.test"),
    Person(3, "Grace Hopper", 1),  # only the pattern resolver could find her
    Person(10, "Ann Early", 2, "ann.early@catchall.test"),
    Person(11, "Bob Middle", 2, "bob.middle@catchall.test"),
    Person(12, "Cy Late", 2, "cy.late@catchall.test"),
    Person(13, "Dora Newcomer", 2),  # the control: her domain is not on the list
]
DOMAINS = {1: "normal.test", 2: "catchall.test"}


@pytest.fixture
def world(greylist_time: FakeTime) -> Iterator[MailWorld]:
    """The mail world, serving from a thread of its own until the test ends."""
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


@pytest.fixture
def mailrt(rt: Runtime, world: MailWorld) -> Runtime:
    """The people seeded (Ada's vault email stale, so re-verification would probe it), probing on."""
    seed(rt, DOMAINS, PEOPLE)
    with rt.db.write() as conn:
        conn.execute(
            update(contact_points)
            .where(contact_points.c.personnel_id == 1)
            .values(checked_at=rt.clock.now() - timedelta(days=100))
        )
    pointed = world_settings(world, smtp_provider_gap_seconds=0.0)
    rt.settings = rt.settings.model_copy(update=pointed.model_dump(include=set(pointed.model_fields_set)))
    return rt


def unlocked(rt: Runtime, account: Account, pids: list[int]) -> dict[str, dict[str, Any]]:
    """Submit, drain with one worker, and return the task's items by person id."""
    result = unlocks.submit(
        rt,
        unlocks.UnlockRequest(
            account_id=account.id, channel=Channel.EMAIL, event_id=str(EVENT), personnel_ids=[str(p) for p in pids]
        ),
    )
    w = worker(rt)
    try:
        w.drain()
    finally:
        w.close()
    return {i["personnelId"]: i for i in task(rt, account, str(result.task_id))["items"]}


def normal_test_queries(world: MailWorld) -> list[tuple[str, str]]:
    return [(name, kind) for name, kind in world.recorder.dns_queries if name.rstrip(".").endswith("normal.test")]


def test_a_suppressed_domain_causes_no_traffic_and_no_charge_and_unsuppress_restores(
    mailrt: Runtime, world: MailWorld
) -> None:
    assert suppressions.suppress(mailrt, "domain", "NORMAL.Test.")
    account = make_account(mailrt)
    before = balance(mailrt, account)

    got = unlocked(mailrt, account, [1, 3, 13])

    for pid in ("1", "3"):  # the vault's stale value and the pattern resolver's would-be guess
        assert (got[pid]["status"], got[pid]["errorCode"], got[pid]["creditsCharged"]) == ("failed", "INELIGIBLE", 0)
        assert "email" not in got[pid]
    assert (got["13"]["status"], got["13"]["email"]) == ("unlocked", "dora.newcomer@catchall.test")
    assert normal_test_queries(world) == []
    assert world.recorder.connections_to(NORMAL_MX) == 0
    assert ("catchall.test", "MX") in world.recorder.dns_queries  # the same batch did reach the world
    assert balance(mailrt, account) == before - got["13"]["creditsCharged"]
    assert_reconciles(mailrt)

    assert suppressions.unsuppress(mailrt, "domain", "normal.test")
    again = unlocked(mailrt, make_account(mailrt, name="after"), [3])["3"]
    assert (again["status"], again["email"], again["source"]) == ("unlocked", "grace.hopper@normal.test", "pattern")
    assert world.recorder.connections_to(NORMAL_MX) >= 1
    assert_reconciles(mailrt)


def test_a_company_domain_written_otherwise_is_matched(mailrt: Runtime, world: MailWorld) -> None:
    # The company's domain as the directory holds it need not be canonical: upper case and a root dot still match.
    with mailrt.db.write() as conn:
        conn.execute(update(companies).where(companies.c.id == 1).values(domain="Normal.TEST."))
    assert suppressions.suppress(mailrt, "domain", "normal.test")
    got = unlocked(mailrt, make_account(mailrt), [3])["3"]
    assert (got["status"], got["errorCode"], got["creditsCharged"]) == ("failed", "INELIGIBLE", 0)
    assert normal_test_queries(world) == []
    assert world.recorder.connections == []
