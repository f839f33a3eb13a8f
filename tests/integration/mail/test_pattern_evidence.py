"""The vault evidence the pattern resolver learns from: imported addresses at the company domain, cached per domain."""

from __future__ import annotations

from contactvault.server.clock import FakeClock
from contactvault.server.db.evidence import person_refs
from contactvault.server.runtime import Runtime
from contactvault.server.worker.resolvers.evidence import VaultEvidence
from tests.integration.mail.people import Person, seed

PEOPLE = [
    Person(1, "Ada Lovelace", 1, "ada.lovelace@normal.test"),
    Person(2, "Alan Turing", 1, "Alan.Turing@Normal.test"),
    Person(3, "Grace Hopper", 1),
    # The engine's own result never teaches it (no self-reinforcement)...
    Person(4, "Linus Torvalds", 1, "ltorvalds@normal.test", source="pattern"),
    # ...and an address elsewhere (a personal one) is not evidence for the company domain.
    Person(5, "Barbara Liskov", 1, "bliskov@gmail.com"),
    Person(6, "Edsger Dijkstra", 2, "edsger@other.test"),
    Person(7, "Nobody Atall", None),
]


def test_evidence_is_the_imported_addresses_at_the_domain(rt: Runtime) -> None:
    seed(rt, {1: "normal.test", 2: "other.test"}, PEOPLE)
    evidence = VaultEvidence(rt.db, rt.cipher, rt.clock, ttl_seconds=600)
    learnt = evidence.patterns("Normal.Test.")
    assert learnt.evidence == 2  # Ada and Alan; not Linus (pattern), Barbara (gmail), Edsger (other company)
    assert learnt.votes["{first}.{last}"] == 2.0
    assert learnt.votes["{f}{last}"] == 0.0
    assert learnt.top()[0] == "{first}.{last}"
    assert set(learnt.owners) == {"ada.lovelace", "alan.turing"}


def test_a_domain_nobody_is_known_at_learns_the_prior_alone(rt: Runtime) -> None:
    seed(rt, {1: "normal.test"}, PEOPLE[:3])
    learnt = VaultEvidence(rt.db, rt.cipher, rt.clock, ttl_seconds=600).patterns("unknown.test")
    assert learnt.evidence == 0
    template, probability = learnt.top()
    assert template == "{first}.{last}"
    assert abs(probability - 0.5) < 1e-9


def test_patterns_are_cached_per_domain_for_the_ttl(rt: Runtime, clock: FakeClock) -> None:
    seed(rt, {1: "normal.test"}, PEOPLE[:3])
    evidence = VaultEvidence(rt.db, rt.cipher, clock, ttl_seconds=600)
    first = evidence.patterns("normal.test")
    assert evidence.patterns("NORMAL.test") is first
    assert evidence.reads == 1
    clock.advance(601)
    assert evidence.patterns("normal.test") is not first
    assert evidence.reads == 2


def test_person_refs_carry_name_company_and_domain(rt: Runtime) -> None:
    seed(rt, {1: "normal.test", 2: None}, [*PEOPLE[:3], Person(8, "Alan Kay", 2)])
    with rt.db.read() as conn:
        refs = person_refs(conn, [3, 8, 99])
    assert set(refs) == {3, 8}
    assert (refs[3].full_name, refs[3].company_name, refs[3].company_domain) == (
        "Grace Hopper",
        "Company 1",
        "normal.test",
    )
    assert refs[8].company_domain is None
