"""Re-verification of stale vault emails through the loopback mail world: with probing on, an email whose last
check is older than CONTACTVAULT_REVERIFY_AFTER_DAYS is probed again before delivery. Every test counts the
connections and RCPT commands the world saw, so none passes with re-verification silently off."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from contactvault.server.db.tables import contact_points
from contactvault.server.demo.mailworld import MailWorld
from contactvault.server.runtime import Runtime
from tests.engine import assert_reconciles, balance
from tests.factories import make_account
from tests.integration.mail.conftest import point, unlocked
from tests.integration.mail.people import Person, seed

PEOPLE = [
    Person(1, "Ada Lovelace", 1, "ada.lovelace@normal.test"),
    Person(2, "Alan Turing", 1, "alan.turing@normal.test"),
    Person(4, "Bob Gone", 1, "bob.gone@normal.test"),  # left the company: the server refuses him now
    Person(5, "Cy Catch", 2, "cy.catch@catchall.test"),
    Person(6, "Dee Grey", 3, "dee.grey@grey.test"),
]
DOMAINS = {1: "normal.test", 2: "catchall.test", 3: "grey.test"}


@pytest.fixture
def mailrt(rt: Runtime, world: MailWorld) -> Runtime:
    """Everyone imported and last checked 100 days ago, except Alan (10 days ago); probing on."""
    seed(rt, DOMAINS, PEOPLE)
    now = rt.clock.now()
    with rt.db.write() as conn:
        conn.execute(update(contact_points).values(checked_at=now - timedelta(days=100)))
        conn.execute(
            update(contact_points).where(contact_points.c.personnel_id == 2).values(checked_at=now - timedelta(days=10))
        )
    point(rt, world, smtp_provider_gap_seconds=0.0)
    return rt


def stored(rt: Runtime, pid: int) -> tuple[Any, ...]:
    with rt.db.read() as conn:
        row = conn.execute(
            select(
                contact_points.c.verification_status, contact_points.c.verification_score, contact_points.c.checked_at
            ).where(contact_points.c.personnel_id == pid)
        ).one()
    return tuple(row)


def rcpts(world: MailWorld, address: str) -> int:
    return sum(1 for e in world.recorder.commands(command="RCPT") if address in e.argument)


def test_a_stale_value_still_accepted_is_refreshed_and_a_fresh_one_is_not_probed(
    mailrt: Runtime, world: MailWorld
) -> None:
    account = make_account(mailrt)
    before = balance(mailrt, account)
    got = unlocked(mailrt, account, [1, 2])
    ada, alan = got["1"], got["2"]
    assert (ada["status"], ada["email"], ada["source"]) == ("unlocked", "ada.lovelace@normal.test", "import")
    assert (ada["verification"]["status"], ada["verification"]["score"]) == ("valid", 95)
    assert stored(mailrt, 1)[:2] == ("valid", 95)
    checked = stored(mailrt, 1)[2]
    assert checked is not None
    assert checked > mailrt.clock.now() - timedelta(days=1)  # was 100 days ago
    assert (alan["status"], alan["verification"]["score"]) == ("unlocked", 90)  # checked 10 days ago: as stored
    assert rcpts(world, "ada.lovelace@normal.test") == 1
    assert rcpts(world, "alan.turing@normal.test") == 0
    assert balance(mailrt, account) == before - 30
    assert_reconciles(mailrt)


def test_a_stale_value_the_server_refuses_is_marked_invalid_and_never_revealed_again(
    mailrt: Runtime, world: MailWorld
) -> None:
    account = make_account(mailrt)
    before = balance(mailrt, account)
    bob = unlocked(mailrt, account, [4])["4"]
    # The chain went on to the pattern resolver, which found nothing either (bob.gone is its best guess, refused).
    assert (bob["status"], bob["errorCode"], bob["creditsCharged"]) == ("failed", "UNRESOLVED", 0)
    assert "email" not in bob
    assert stored(mailrt, 4)[0] == "invalid"
    assert balance(mailrt, account) == before
    again = unlocked(mailrt, make_account(mailrt, name="other"), [4])["4"]
    assert (again["status"], again["creditsCharged"]) == ("failed", 0)
    assert "email" not in again
    assert rcpts(world, "bob.gone@normal.test") >= 2  # re-verification, then the pattern resolver's guess
    assert_reconciles(mailrt)


def test_a_catch_all_domain_refreshes_to_accept_all_and_greylisting_delivers_the_stored_verification(
    mailrt: Runtime, world: MailWorld
) -> None:
    account = make_account(mailrt)
    got = unlocked(mailrt, account, [5, 6])
    assert (got["5"]["status"], got["5"]["verification"]["status"], got["5"]["verification"]["score"]) == (
        "unlocked",
        "accept_all",
        60,
    )
    assert stored(mailrt, 5)[:2] == ("accept_all", 60)
    dee = got["6"]
    assert (dee["status"], dee["email"], dee["creditsCharged"]) == ("unlocked", "dee.grey@grey.test", 15)
    assert (dee["verification"]["status"], dee["verification"]["score"]) == ("valid", 90)  # as stored, not deferred
    assert stored(mailrt, 6)[:2] == ("valid", 90)
    assert world.recorder.connections_to("127.0.0.4") == 1  # the greylister was asked
    assert world.recorder.connections_to("127.0.0.3") == 1  # the catch-all answered its random address


def test_reverify_after_zero_days_never_probes_a_vault_value(mailrt: Runtime, world: MailWorld) -> None:
    account = make_account(mailrt)
    got = unlocked(mailrt, account, [1, 4], reverify_after_days=0)
    assert (got["1"]["verification"]["score"], got["4"]["email"]) == (90, "bob.gone@normal.test")
    assert world.recorder.connections == []
    assert stored(mailrt, 4)[0] == "valid"
