"""The pattern resolver against the loopback mail world: every branch, with what DNS and SMTP traffic it caused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pytest

from contactvault.server.clock import FakeClock
from contactvault.server.demo.mailworld import MailWorld
from contactvault.server.domain.resolution import Lookup, Outcome, Resolution
from contactvault.server.runtime import Runtime
from contactvault.server.services import suppressions
from contactvault.server.services.suppressions import suppressed_hashes
from contactvault.server.worker.mail.politeness import InProcessLimiter, ProviderLimits
from contactvault.server.worker.resolvers import pattern
from contactvault.server.worker.runner import default_resolvers
from tests.integration.mail.people import Person, seed
from tests.integration.mail.resolving import pattern_resolver

DOMAINS = {
    1: "normal.test",
    2: "catchall.test",
    3: "grey.test",
    4: "nullmx.test",
    5: "dnsdown.test",
    6: "gmail.com",
    7: None,
    8: "nowhere.test",
    9: "implicit.test",  # no known address: the prior alone ranks the candidates
}
PEOPLE = [
    Person(1, "Ada Lovelace", 1, "ada.lovelace@normal.test"),
    Person(2, "Alan Turing", 1, "alan.turing@normal.test"),
    Person(3, "Grace Hopper", 1),  # the mailbox exists; nobody imported it
    Person(4, "Zed Nobody", 1),  # no mailbox of any spelling
    Person(10, "Ann Early", 2, "ann.early@catchall.test"),
    Person(11, "Bob Middle", 2, "bob.middle@catchall.test"),
    Person(12, "Cy Late", 2, "cy.late@catchall.test"),
    Person(13, "Dora Newcomer", 2),
    Person(20, "Grace Hopper", 3),
    Person(21, "Zed Nobody", 3),  # no mailbox of any spelling at the greylisting domain
    Person(30, "Null Person", 4),
    Person(40, "Down Person", 5),
    Person(50, "Free Person", 6),
    Person(60, "Lost Person", 7),
    Person(70, "Gone Person", 8),
    Person(80, "Hopper Grace", 9),  # her address follows {last}.{first}: the prior ranks it 8th
]


def run(run_world: Any, rt: Runtime, clock: FakeClock, pid: int, /, min_: str | None = None, **settings: Any):
    """Resolve person ``pid`` in a fresh world: (answer, the world's recorder)."""
    seed(rt, DOMAINS, PEOPLE)

    async def scenario(world: MailWorld) -> tuple[Resolution, Any]:
        resolver = pattern_resolver(rt, world, clock, **settings)
        answer = await resolver.resolve(Lookup(1, pid, "email", min_))
        return answer, world.recorder

    return run_world(scenario)


def test_a_person_nobody_imported_is_found_valid_on_a_normal_domain(run_world, rt: Runtime, clock: FakeClock) -> None:
    answer, recorder = run(run_world, rt, clock, 3)
    assert answer.outcome is Outcome.FOUND
    assert rt.cipher.open(answer.value_encrypted) == "grace.hopper@normal.test"
    assert answer.value_hash == rt.cipher.lookup_hash("email", "grace.hopper@normal.test")
    assert (answer.source, answer.verification_status, answer.checked_at) == ("pattern", "valid", clock.now())
    assert answer.verification_score is not None
    assert answer.verification_score >= 90
    assert recorder.connections_to("127.0.0.2") == 1
    rcpts = [e.argument for e in recorder.commands("127.0.0.2", "RCPT")]
    assert len(rcpts) == 2
    assert rcpts[1] == "grace.hopper@normal.test"


def test_an_accepted_address_a_namesake_colleague_also_renders_is_not_called_valid(
    run_world, rt: Runtime, clock: FakeClock
) -> None:
    # A second Grace Hopper at the company, not in the vault: the server accepts grace.hopper@, but nothing says
    # whose mailbox it is, so neither may be charged for it as a proven address.
    seed(rt, DOMAINS, [*PEOPLE, Person(5, "Grace Hopper", 1)])

    async def scenario(world: MailWorld) -> tuple[Resolution, Resolution, int]:
        resolver = pattern_resolver(rt, world, clock)
        mine = await resolver.resolve(Lookup(1, 3, "email"))
        theirs = await resolver.resolve(Lookup(2, 5, "email"))
        return mine, theirs, len(world.recorder.commands("127.0.0.2", "RCPT"))

    mine, theirs, rcpts = run_world(scenario)
    assert (mine.outcome, theirs.outcome) == (Outcome.NOT_FOUND, Outcome.NOT_FOUND)
    assert rcpts >= 2  # the mailbox was probed and accepted: it is the namesake that withholds it


def test_a_namesake_whose_own_address_the_vault_holds_does_not_withhold_it(
    run_world, rt: Runtime, clock: FakeClock
) -> None:
    seed(rt, DOMAINS, [*PEOPLE, Person(5, "Grace Hopper", 1, "grace.hopper2@normal.test")])

    async def scenario(world: MailWorld) -> Resolution:
        return await pattern_resolver(rt, world, clock).resolve(Lookup(1, 3, "email"))

    answer = run_world(scenario)
    assert answer.outcome is Outcome.FOUND
    assert rt.cipher.open(answer.value_encrypted) == "grace.hopper@normal.test"


def test_without_evidence_a_third_session_reaches_a_rarer_pattern(run_world, rt: Runtime, clock: FakeClock) -> None:
    answer, recorder = run(run_world, rt, clock, 80)
    assert answer.outcome is Outcome.FOUND
    assert rt.cipher.open(answer.value_encrypted) == "grace.hopper@implicit.test"
    assert recorder.connections_to("127.0.0.6") == 3
    assert len(recorder.commands("127.0.0.6", "RCPT")) == 1 + 3 + 3 + 2  # stopped at the acceptance


def test_an_opted_out_address_is_never_probed(run_world, rt: Runtime, clock: FakeClock) -> None:
    suppressions.suppress(rt, "email", "grace.hopper@normal.test")
    answer, recorder = run(run_world, rt, clock, 3)
    assert answer.outcome is Outcome.NOT_FOUND  # her other spellings have no mailbox
    rcpts = [e.argument for e in recorder.commands("127.0.0.2", "RCPT")]
    assert len(rcpts) == 1 + 4  # the catch-all probe, then the four other candidates in two sessions
    assert "grace.hopper@normal.test" not in rcpts


def test_a_batch_reads_the_opt_out_list_once_for_every_person_in_it(
    run_world, rt: Runtime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    suppressions.suppress(rt, "email", "grace.hopper@normal.test")
    seed(rt, DOMAINS, PEOPLE)
    reads: list[int] = []

    def counted(conn: Any, hashes: Sequence[bytes]) -> set[bytes]:
        reads.append(len(hashes))
        return suppressed_hashes(conn, hashes)

    monkeypatch.setattr(pattern, "suppressed_hashes", counted)

    async def scenario(world: MailWorld) -> tuple[dict[int, Resolution], Any]:
        resolver = pattern_resolver(rt, world, clock)
        return await resolver.resolve_many([Lookup(pid, pid, "email") for pid in (3, 4, 80)], 3), world.recorder

    answers, recorder = run_world(scenario)
    assert len(reads) == 1  # one read for the three people's candidates, not one per person
    assert reads[0] >= 3
    assert answers[80].outcome is Outcome.FOUND  # the others' opt-out costs her nothing
    assert answers[3].outcome is Outcome.NOT_FOUND  # her other spellings have no mailbox
    assert "grace.hopper@normal.test" not in [e.argument for e in recorder.commands(command="RCPT")]


def test_probing_off_gives_an_unknown_guess_that_is_not_delivered(run_world, rt: Runtime, clock: FakeClock) -> None:
    answer, recorder = run(run_world, rt, clock, 3, smtp_probe=False)
    assert answer.outcome is Outcome.NOT_FOUND
    assert ("normal.test", "MX") in recorder.dns_queries
    assert recorder.connections == []


def test_nobody_of_that_name_at_the_domain_is_not_found(run_world, rt: Runtime, clock: FakeClock) -> None:
    answer, recorder = run(run_world, rt, clock, 4)
    assert answer.outcome is Outcome.NOT_FOUND
    # Two sessions at most: the best three candidates, then the rest once all three were refused as unknown.
    assert recorder.connections_to("127.0.0.2") == 2
    assert len(recorder.commands("127.0.0.2", "RCPT")) == 1 + 5


def test_with_strong_evidence_nobody_of_that_name_costs_one_session_not_two(
    run_world, rt: Runtime, clock: FakeClock
) -> None:
    # A third known first.last address: the pattern has the support at which a catch-all guess is delivered, so
    # when its spellings are refused the rarer patterns are not asked (they are what the evidence rules out).
    seed(rt, DOMAINS, [*PEOPLE, Person(5, "Cy Late", 1, "cy.late@normal.test")])

    async def scenario(world: MailWorld) -> tuple[Resolution, Any]:
        return await pattern_resolver(rt, world, clock).resolve(Lookup(1, 4, "email")), world.recorder

    answer, recorder = run_world(scenario)
    assert answer.outcome is Outcome.NOT_FOUND
    assert recorder.connections_to("127.0.0.2") == 1
    assert len(recorder.commands("127.0.0.2", "RCPT")) == 1 + 3


def test_a_catch_all_domain_with_three_known_addresses_delivers_the_best_guess_as_accept_all(
    run_world, rt: Runtime, clock
) -> None:
    answer, _ = run(run_world, rt, clock, 13)
    assert answer.outcome is Outcome.FOUND
    assert rt.cipher.open(answer.value_encrypted) == "dora.newcomer@catchall.test"
    assert (answer.verification_status, answer.verification_score) == ("accept_all", 90)


def test_a_task_asking_for_valid_gets_no_accept_all(run_world, rt: Runtime, clock: FakeClock) -> None:
    answer, recorder = run(run_world, rt, clock, 13, "valid")
    assert answer.outcome is Outcome.NOT_FOUND
    assert recorder.connections_to("127.0.0.3") == 1  # asked, and refused by the task's floor only


def test_an_operator_floor_of_valid_gets_no_accept_all_and_a_task_cannot_loosen_it(run_world, rt, clock) -> None:
    answer, _ = run(run_world, rt, clock, 13, "accept_all", verification_min="valid")
    assert answer.outcome is Outcome.NOT_FOUND


def test_greylisting_is_a_deferral_for_the_greylist_retry(run_world, rt: Runtime, clock: FakeClock) -> None:
    answer, recorder = run(run_world, rt, clock, 20, greylist_retry_after=120)
    assert (answer.outcome, answer.retry_after) == (Outcome.DEFERRED, 120.0)
    assert recorder.connections_to("127.0.0.4") == 1


def test_a_greylisting_retry_asks_only_the_candidates_greylisted_and_not_yet_refused(
    run_world, rt: Runtime, clock: FakeClock, greylist_time
) -> None:
    seed(rt, DOMAINS, PEOPLE)

    async def scenario(world: MailWorld) -> tuple[list[Resolution], list[list[str]]]:
        resolver = pattern_resolver(rt, world, clock)
        answers: list[Resolution] = []
        asked: list[list[str]] = []
        while not answers or (answers[-1].outcome is Outcome.DEFERRED and len(answers) < 6):
            before = len(world.recorder.commands("127.0.0.4", "RCPT"))
            answers.append(await resolver.resolve(Lookup(1, 21, "email")))
            asked.append([e.argument for e in world.recorder.commands("127.0.0.4", "RCPT")[before:]])
            greylist_time.now += 61
        return answers, asked

    answers, asked = run_world(scenario)
    assert [a.outcome for a in answers] == [Outcome.DEFERRED] * (len(answers) - 1) + [Outcome.NOT_FOUND]
    assert len(answers) >= 3  # a retry found new candidates to ask (and greylisted them) before the end
    probe = asked[0][0]
    candidates = [address for pass_ in asked for address in pass_ if address != probe]
    # Each spelling is asked twice: once greylisted, once refused; a refused one is never asked again.
    assert set(Counter(candidates).values()) == {2}
    seen: set[str] = set()
    for previous, retry in pairwise(asked):
        # A retry asks first what the previous pass greylisted (its new candidates), best first.
        greylisted = [a for a in previous if a != probe and a not in seen]
        seen.update(previous)
        assert [a for a in retry if a != probe][: len(greylisted)] == greylisted


def test_with_strong_evidence_a_greylisted_session_starts_the_clock_of_the_best_candidate_only(
    run_world, rt: Runtime, clock: FakeClock, greylist_time
) -> None:
    # Three known first.last addresses at the greylisting domain: the best candidate holds nearly all the
    # probability, so greylisting the other spellings too would cost an RCPT each now and again on the retry.
    known = [Person(22, "Ann Early", 3, "ann.early@grey.test"), Person(23, "Bob Middle", 3, "bob.middle@grey.test")]
    seed(rt, DOMAINS, [*PEOPLE, *known, Person(24, "Cy Late", 3, "cy.late@grey.test")])

    async def scenario(world: MailWorld) -> tuple[list[Resolution], list[list[str]]]:
        resolver = pattern_resolver(rt, world, clock)
        answers: list[Resolution] = []
        asked: list[list[str]] = []
        for _ in range(2):
            before = len(world.recorder.commands("127.0.0.4", "RCPT"))
            answers.append(await resolver.resolve(Lookup(1, 20, "email")))
            asked.append([e.argument for e in world.recorder.commands("127.0.0.4", "RCPT")[before:]])
            greylist_time.now += 61
        return answers, asked

    answers, asked = run_world(scenario)
    assert [a.outcome for a in answers] == [Outcome.DEFERRED, Outcome.FOUND]
    assert rt.cipher.open(answers[1].value_encrypted) == "grace.hopper@grey.test"
    probe = asked[0][0]
    assert asked[0] == [probe, "grace.hopper@grey.test"]  # the random address, then one clock, not three
    assert asked[1] == [probe, "grace.hopper@grey.test"]


def test_a_politeness_limit_is_a_deferral_for_as_long_as_it_asks(run_world, rt: Runtime, clock: FakeClock) -> None:
    seed(rt, DOMAINS, PEOPLE)
    limiter = InProcessLimiter(ProviderLimits(gap_seconds=100.0, max_wait_seconds=1.0), now=lambda: 5000.0)

    async def scenario(world: MailWorld) -> tuple[Resolution, Resolution, Any]:
        resolver = pattern_resolver(rt, world, clock, limiter)
        first = await resolver.resolve(Lookup(3, 3, "email"))
        second = await resolver.resolve(Lookup(4, 4, "email"))  # same provider, 100 s gap not over
        return first, second, world.recorder

    first, second, recorder = run_world(scenario)
    assert first.outcome is Outcome.FOUND
    assert (second.outcome, second.retry_after) == (Outcome.DEFERRED, 100.0)
    assert recorder.connections_to("127.0.0.2") == 1  # the deferred person caused no session


def test_no_mail_domain_is_not_found_and_dns_down_is_transient(run_world, rt: Runtime, clock: FakeClock) -> None:
    seed(rt, DOMAINS, PEOPLE)

    async def scenario(world: MailWorld) -> dict[int, Resolution]:
        resolver = pattern_resolver(rt, world, clock)
        return await resolver.resolve_many([Lookup(pid, pid, "email") for pid in (30, 40, 70)], 3)

    answers = run_world(scenario)
    assert {pid: a.outcome for pid, a in answers.items()} == {
        30: Outcome.NOT_FOUND,  # null MX
        40: Outcome.TRANSIENT,  # SERVFAIL
        70: Outcome.NOT_FOUND,  # NXDOMAIN
    }


def test_no_domain_free_mail_and_inference_off_are_ineligible_without_traffic(run_world, rt, clock) -> None:
    seed(rt, DOMAINS, PEOPLE)

    async def scenario(world: MailWorld) -> tuple[dict[int, Resolution], dict[int, Resolution], Any]:
        on = await pattern_resolver(rt, world, clock).resolve_many(
            [Lookup(50, 50, "email"), Lookup(60, 60, "email")], 2
        )
        off = await pattern_resolver(rt, world, clock, inference=False).resolve_many(
            [Lookup(3, 3, "email"), Lookup(4, 3, "phone")], 2
        )
        return on, off, world.recorder

    on, off, recorder = run_world(scenario)
    assert [a.outcome for a in on.values()] == [Outcome.INELIGIBLE, Outcome.INELIGIBLE]
    assert (off[3].outcome, off[4].outcome) == (Outcome.INELIGIBLE, Outcome.NOT_FOUND)
    assert recorder.dns_queries == []
    assert recorder.connections == []


def test_phones_are_not_guessed(run_world, rt: Runtime, clock: FakeClock) -> None:
    seed(rt, DOMAINS, PEOPLE)

    async def scenario(world: MailWorld) -> tuple[Resolution, Any]:
        return await pattern_resolver(rt, world, clock).resolve(Lookup(3, 3, "phone")), world.recorder

    answer, recorder = run_world(scenario)
    assert answer.outcome is Outcome.NOT_FOUND
    assert recorder.dns_queries == []


def test_the_worker_chains_the_pattern_resolver_only_where_dns_is_configured(rt: Runtime) -> None:
    assert [r.name for r in default_resolvers(rt)] == ["vault"]  # the default: no nameserver, no inference
    rt.settings = rt.settings.model_copy(update={"mail_dns_servers": "127.0.0.1:53"})
    assert [r.name for r in default_resolvers(rt)] == ["vault", "pattern"]
