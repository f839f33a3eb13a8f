"""End to end: an unlock whose person the vault lacks, delivered (or not) by the pattern resolver through the real
DNS and SMTP servers of the loopback mail world, recorded by the worker and settled like any other item.

The world runs in its own thread and event loop (the worker drives its own loop), and every test checks the traffic
the world recorded, so none can pass with the resolver silently out of the chain."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contactvault.server.clock import FakeClock
from contactvault.server.db.tables import task_items
from contactvault.server.demo.mailworld import MailWorld
from contactvault.server.domain.scoring import VerificationMin
from contactvault.server.runtime import Runtime
from contactvault.server.services import suppressions
from tests.engine import assert_reconciles, balance, worker
from tests.factories import make_account
from tests.integration.mail.conftest import FakeTime, drained, items, point, submit_unlock
from tests.integration.mail.people import Person, seed

PEOPLE = [
    Person(1, "Ada Lovelace", 1, "ada.lovelace@normal.test"),
    Person(2, "Alan Turing", 1, "alan.turing@normal.test"),
    Person(3, "Grace Hopper", 1),
    Person(10, "Ann Early", 2, "ann.early@catchall.test"),
    Person(11, "Bob Middle", 2, "bob.middle@catchall.test"),
    Person(12, "Cy Late", 2, "cy.late@catchall.test"),
    Person(13, "Dora Newcomer", 2),
    Person(14, "Eve Lonely", 3),
    Person(20, "Grace Hopper", 4),
]
DOMAINS = {1: "normal.test", 2: "catchall.test", 3: "catchall2.test", 4: "grey.test"}


@pytest.fixture
def mailrt(rt: Runtime, world: MailWorld) -> Runtime:
    """The runtime with the people seeded and the settings pointing at the world (probing on)."""
    seed(rt, DOMAINS, PEOPLE)
    # No gap between sessions to one provider: the limiter runs on real time, the test on the FakeClock.
    point(rt, world, smtp_provider_gap_seconds=0.0)
    return rt


def test_the_pattern_resolver_delivers_an_address_nobody_imported_charged_once(
    mailrt: Runtime, world: MailWorld
) -> None:
    account = make_account(mailrt)
    before = balance(mailrt, account)
    task_id = submit_unlock(mailrt, account, [1, 3])
    assert drained(mailrt) == 2
    got = items(mailrt, account, task_id)
    assert got["1"]["email"] == "ada.lovelace@normal.test"  # the vault's, as before
    assert got["1"]["source"] == "import"
    grace = got["3"]
    assert (grace["status"], grace["email"], grace["source"]) == ("unlocked", "grace.hopper@normal.test", "pattern")
    assert grace["verification"]["status"] == "valid"
    assert grace["verification"]["score"] >= 90
    assert grace["creditsCharged"] == 15
    assert balance(mailrt, account) == before - 30
    assert world.recorder.connections_to("127.0.0.2") == 1  # only Grace needed the engine
    assert_reconciles(mailrt)


def test_accept_all_is_delivered_above_60_but_not_to_a_task_asking_for_valid(mailrt: Runtime, world: MailWorld) -> None:
    account = make_account(mailrt)
    before = balance(mailrt, account)
    loose = submit_unlock(mailrt, account, [13, 14])
    drained(mailrt)
    got = items(mailrt, account, loose)
    assert (got["13"]["status"], got["13"]["email"]) == ("unlocked", "dora.newcomer@catchall.test")
    assert got["13"]["verification"]["status"] == "accept_all"
    assert got["13"]["verification"]["score"] == 90
    # catchall2.test has no MX in the world: NXDOMAIN, nothing to deliver
    assert (got["14"]["status"], got["14"]["errorCode"], got["14"]["creditsCharged"]) == ("failed", "UNRESOLVED", 0)
    other = make_account(mailrt, name="strict")
    strict = submit_unlock(mailrt, other, [13], VerificationMin.VALID)
    drained(mailrt)
    refused = items(mailrt, other, strict)["13"]
    assert (refused["status"], refused["errorCode"], refused["creditsCharged"]) == ("failed", "UNRESOLVED", 0)
    assert "email" not in refused
    assert balance(mailrt, account) == before - 15
    # One session per worker (each drain is a new one) on SQLite; on PostgreSQL the workers share the catch-all
    # verdict (docs/verification.md, "Scale-out"), so the second needs no session.
    assert world.recorder.connections_to("127.0.0.3") == (2 if mailrt.db.is_sqlite else 1)
    assert_reconciles(mailrt)


def test_dns_only_finds_an_unknown_guess_and_fails_the_item_uncharged(mailrt: Runtime, world: MailWorld) -> None:
    account = make_account(mailrt)
    before = balance(mailrt, account)
    task_id = submit_unlock(mailrt, account, [3])
    drained(mailrt, smtp_probe=False)
    item = items(mailrt, account, task_id)["3"]
    assert (item["status"], item["errorCode"], item["creditsCharged"]) == ("failed", "UNRESOLVED", 0)
    assert ("normal.test", "MX") in world.recorder.dns_queries
    assert world.recorder.connections == []
    assert balance(mailrt, account) == before
    assert_reconciles(mailrt)


def test_inference_off_makes_no_dns_question_at_all(mailrt: Runtime, world: MailWorld) -> None:
    account = make_account(mailrt)
    task_id = submit_unlock(mailrt, account, [1, 3])
    mailrt.settings = mailrt.settings.model_copy(update={"inference": False})
    w = worker(mailrt)
    try:
        assert [r.name for r in w.chain.resolvers] == ["vault", "pattern"]  # in the chain, and silent
        assert w.drain() == 2
    finally:
        w.close()
    got = items(mailrt, account, task_id)
    assert got["1"]["status"] == "unlocked"  # the vault still answers
    assert (got["3"]["status"], got["3"]["creditsCharged"]) == ("failed", 0)
    assert world.recorder.dns_queries == []
    assert world.recorder.connections == []


def test_a_suppressed_person_causes_no_dns_or_smtp_traffic(mailrt: Runtime, world: MailWorld) -> None:
    suppressions.suppress(mailrt, "person", "3")
    account = make_account(mailrt)
    task_id = submit_unlock(mailrt, account, [3, 13])
    drained(mailrt)
    got = items(mailrt, account, task_id)
    assert (got["3"]["status"], got["3"]["errorCode"], got["3"]["creditsCharged"]) == ("failed", "INELIGIBLE", 0)
    assert got["13"]["status"] == "unlocked"  # the same batch did reach the world for someone else
    assert all(name != "normal.test" for name, _ in world.recorder.dns_queries)
    assert world.recorder.connections_to("127.0.0.2") == 0


def test_a_greylisted_item_is_requeued_then_delivered_after_the_retry_charged_once(
    mailrt: Runtime, world: MailWorld, clock: FakeClock, greylist_time: FakeTime
) -> None:
    account = make_account(mailrt)
    before = balance(mailrt, account)
    task_id = submit_unlock(mailrt, account, [20])
    w = worker(mailrt)
    try:
        assert w.run_once() == 1
        item = items(mailrt, account, task_id)["20"]
        assert item["status"] == "pending"
        assert _attempts_and_lease(mailrt) == (0, None)
        assert w.run_once() == 0  # not due yet
        clock.advance(300)
        greylist_time.now += 300
        assert w.run_once() == 1
    finally:
        w.close()
    item = items(mailrt, account, task_id)["20"]
    assert (item["status"], item["email"], item["source"]) == ("unlocked", "grace.hopper@grey.test", "pattern")
    assert item["verification"]["status"] == "valid"
    assert balance(mailrt, account) == before - 15
    assert world.recorder.connections_to("127.0.0.4") == 2
    assert_reconciles(mailrt)


def _attempts_and_lease(rt: Runtime) -> tuple[int, object]:
    with rt.db.read() as conn:
        row = conn.execute(select(task_items.c.attempts, task_items.c.lease_expires_at)).one()
    return row[0], row[1]
