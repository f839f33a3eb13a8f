"""A company domain on the opt-out list, through the loopback mail world (both backends): its people cause no DNS
question and no SMTP connection at all (no pattern guess, no re-verification of a stale vault value), their items
fail ``INELIGIBLE`` uncharged, and ``unsuppress`` lets the engine find them again. Every test counts the traffic the
world recorded for the domain and for a control domain in the same batch, so none can pass with the world down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from contactvault.server.db.tables import companies, contact_points
from contactvault.server.demo.mailworld import MailWorld
from contactvault.server.runtime import Runtime
from contactvault.server.services import suppressions
from tests.engine import assert_reconciles, balance
from tests.factories import make_account
from tests.integration.mail.conftest import point, unlocked
from tests.integration.mail.people import Person, seed

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
def mailrt(rt: Runtime, world: MailWorld) -> Runtime:
    """The people seeded (Ada's vault email stale, so re-verification would probe it), probing on."""
    seed(rt, DOMAINS, PEOPLE)
    with rt.db.write() as conn:
        conn.execute(
            update(contact_points)
            .where(contact_points.c.personnel_id == 1)
            .values(checked_at=rt.clock.now() - timedelta(days=100))
        )
    point(rt, world, smtp_provider_gap_seconds=0.0)
    return rt


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
