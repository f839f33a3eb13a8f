"""The provider resolver against a real loopback HTTP server: mapping, retries, Retry-After, breaker, budget, secrecy.

Every test asserts how many requests the fake received, so none can pass without the calls it claims to make.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from email.utils import format_datetime

from contactvault.server.clock import FakeClock
from contactvault.server.worker.resolvers.base import Lookup, Outcome, Resolution
from contactvault.server.worker.resolvers.provider import ProviderResolver
from tests.integration.providers.conftest import KEY
from tests.integration.providers.fake_provider import FakeProvider, Reply, found

NO_VAULT_EMAIL = 10  # the test directory gives every 10th person no email: only a provider can find it


def resolve(resolver: ProviderResolver, pid: int = NO_VAULT_EMAIL, channel: str = "email") -> Resolution:
    return asyncio.run(resolver.resolve(Lookup(pid, pid, channel)))


def test_a_post_provider_gets_its_json_body(fake_provider: FakeProvider, make_resolver) -> None:
    fake_provider.script(found("p10@northwind.test"))
    resolver = make_resolver(
        url=fake_provider.url + "/find", method="POST", json_body={"name": "{full_name}", "company": "{company_name}"}
    )
    assert resolve(resolver).outcome is Outcome.FOUND
    (seen,) = fake_provider.seen
    assert (seen.method, seen.body) == ("POST", b'{"name":"Person 10 Example","company":"Northwind Logistics"}')


# Each reply, and the outcome, status and score it must map to (one database for all: setting one up is the cost).
ANSWERS = [
    (found("p10@northwind.test", "accept_all", 70), Outcome.FOUND, "accept_all", 70),
    (found("p10@northwind.test", "accept_all", 50), Outcome.NOT_FOUND, None, None),  # below 60: not delivered
    (found("p10@northwind.test", "unknown", 45), Outcome.NOT_FOUND, None, None),  # never an inferred unknown
    (found("p10@northwind.test", "webmail", 90), Outcome.NOT_FOUND, None, None),
    (found("not an address"), Outcome.NOT_FOUND, None, None),
    (Reply(200, {"data": {"email": None}}), Outcome.NOT_FOUND, None, None),
    (Reply(404, {"error": "no match"}), Outcome.NOT_FOUND, None, None),
    (Reply(400, {"error": "bad"}), Outcome.NOT_FOUND, None, None),
    (Reply(451, {"error": "restricted"}), Outcome.INELIGIBLE, None, None),
    (Reply(401, {"error": "key"}), Outcome.TRANSIENT, None, None),
    (Reply(202, {"status": "verifying"}), Outcome.TRANSIENT, None, None),
    (Reply(200, None), Outcome.TRANSIENT, None, None),  # not JSON
]


def test_each_answer_maps_to_an_outcome_with_one_call(fake_provider: FakeProvider, make_resolver) -> None:
    resolver = make_resolver()
    for number, (reply, outcome, status, score) in enumerate(ANSWERS, start=1):
        fake_provider.script(reply)
        answer = resolve(resolver)
        assert (answer.outcome, answer.verification_status, answer.verification_score) == (outcome, status, score), (
            reply
        )
        assert fake_provider.calls == number, reply  # one call each: no 4xx is ever retried


def test_a_burst_of_5xx_is_retried_until_an_answer(fake_provider: FakeProvider, make_resolver) -> None:
    fake_provider.script(Reply(503), Reply(500), found("p10@northwind.test"))
    assert resolve(make_resolver()).outcome is Outcome.FOUND
    assert fake_provider.calls == 3


def test_5xx_after_every_attempt_is_transient(fake_provider: FakeProvider, make_resolver) -> None:
    fake_provider.default = Reply(502)
    assert resolve(make_resolver()).outcome is Outcome.TRANSIENT
    assert fake_provider.calls == 3


def test_429_waits_what_retry_after_asks(fake_provider: FakeProvider, make_resolver, caplog) -> None:
    caplog.set_level(logging.INFO, logger="contactvault.worker.provider")
    fake_provider.script(Reply(429, headers={"Retry-After": "7"}), found("p10@northwind.test"))
    assert resolve(make_resolver()).outcome is Outcome.FOUND
    assert fake_provider.calls == 2
    waits = [r.args[2] for r in caplog.records if "Retry-After" in r.msg and r.args and len(r.args) == 3]
    assert waits == [7.0]


def test_retry_after_as_an_http_date_is_a_wait_from_now(
    clock: FakeClock, fake_provider: FakeProvider, make_resolver, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="contactvault.worker.provider")
    when = format_datetime(clock.now() + timedelta(seconds=4), usegmt=True)
    fake_provider.script(Reply(503, headers={"Retry-After": when}), found("p10@northwind.test"))
    assert resolve(make_resolver()).outcome is Outcome.FOUND
    waits = [r.args[2] for r in caplog.records if "Retry-After" in r.msg and r.args and len(r.args) == 3]
    assert (waits, fake_provider.calls) == ([4.0], 2)


def test_a_retry_after_past_the_deadline_is_transient_at_once(fake_provider: FakeProvider, make_resolver) -> None:
    fake_provider.script(Reply(429, headers={"Retry-After": "3600"}), found("p10@northwind.test"))
    assert resolve(make_resolver()).outcome is Outcome.TRANSIENT
    assert fake_provider.calls == 1


def test_429_after_every_attempt_is_transient(fake_provider: FakeProvider, make_resolver) -> None:
    fake_provider.default = Reply(429, headers={"Retry-After": "1"})
    assert resolve(make_resolver()).outcome is Outcome.TRANSIENT
    assert fake_provider.calls == 3


def test_a_burst_of_5xx_opens_the_breaker_and_no_more_calls_are_made(
    fake_provider: FakeProvider, make_resolver
) -> None:
    fake_provider.default = Reply(503)
    resolver = make_resolver(breaker={"failures": 4, "open_seconds": 30})
    assert resolve(resolver).outcome is Outcome.TRANSIENT  # 3 calls
    assert resolve(resolver, 20).outcome is Outcome.TRANSIENT  # the 4th call opens the circuit; no 5th
    assert fake_provider.calls == 4
    assert [resolve(resolver, pid).outcome for pid in (30, 40)] == [Outcome.TRANSIENT] * 2
    assert fake_provider.calls == 4  # open: answered at once, nothing sent


def test_the_breaker_half_opens_after_its_time(clock: FakeClock, fake_provider: FakeProvider, make_resolver) -> None:
    fake_provider.default = Reply(500)
    resolver = make_resolver(breaker={"failures": 3, "open_seconds": 30})
    resolve(resolver)
    assert fake_provider.calls == 3
    clock.advance(29)
    assert resolve(resolver).outcome is Outcome.TRANSIENT
    assert fake_provider.calls == 3
    clock.advance(1)  # half-open: one trial; it fails and the circuit opens again
    assert resolve(resolver).outcome is Outcome.TRANSIENT
    assert fake_provider.calls == 4
    clock.advance(30)
    fake_provider.script(found("p10@northwind.test"))  # the next trial succeeds and closes it
    assert resolve(resolver).outcome is Outcome.FOUND
    fake_provider.script(found("p20@northwind.test"))
    assert resolve(resolver, 20).outcome is Outcome.FOUND
    assert fake_provider.calls == 6


def test_client_errors_never_open_the_breaker(fake_provider: FakeProvider, make_resolver) -> None:
    fake_provider.default = Reply(404)
    resolver = make_resolver(breaker={"failures": 2, "open_seconds": 30})
    assert [resolve(resolver, pid).outcome for pid in (10, 20, 30)] == [Outcome.NOT_FOUND] * 3
    assert fake_provider.calls == 3


def test_a_spent_budget_is_transient_without_a_call(
    clock: FakeClock, fake_provider: FakeProvider, make_resolver
) -> None:
    fake_provider.default = found("someone@northwind.test")
    resolver = make_resolver(budget={"calls": 2, "window_seconds": 60})
    assert [resolve(resolver, pid).outcome for pid in (10, 20, 30)] == [
        Outcome.FOUND,
        Outcome.FOUND,
        Outcome.TRANSIENT,
    ]
    assert fake_provider.calls == 2
    clock.advance(60)
    assert resolve(resolver, 30).outcome is Outcome.FOUND
    assert fake_provider.calls == 3


def test_a_slow_provider_times_out_each_attempt(fake_provider: FakeProvider, make_resolver) -> None:
    fake_provider.default = Reply(delay=5)
    resolver = make_resolver(timeouts={"connect": 1, "read": 0.2, "total": 10}, retries={"attempts": 2})
    assert resolve(resolver).outcome is Outcome.TRANSIENT
    assert fake_provider.calls == 2
    assert resolver.breaker.failures == 2  # a timeout counts against the circuit


def test_the_item_deadline_bounds_all_attempts(fake_provider: FakeProvider, make_resolver) -> None:
    fake_provider.default = Reply(delay=5)
    resolver = make_resolver(timeouts={"connect": 1, "read": 3, "total": 0.3})
    assert resolve(resolver).outcome is Outcome.TRANSIENT
    assert fake_provider.calls == 1
    assert resolver.breaker.failures == 1


def test_phone_lookups_and_people_missing_what_the_request_needs_cost_no_call(
    fake_provider: FakeProvider, make_resolver
) -> None:
    resolver = make_resolver()
    assert resolve(resolver, channel="phone").outcome is Outcome.NOT_FOUND
    assert resolve(resolver, 999_999).outcome is Outcome.NOT_FOUND  # nobody: nothing to ask
    assert fake_provider.calls == 0
    fake_provider.script(found("p10@northwind.test"))
    assert resolve(resolver).outcome is Outcome.FOUND  # the control: the same resolver does call
    assert fake_provider.calls == 1


def test_the_key_and_the_person_never_reach_a_log_or_an_error(
    fake_provider: FakeProvider, make_resolver, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_provider.script(
        found("p10@northwind.test"),
        Reply(503),
        Reply(429, headers={"Retry-After": "1"}),
        found("p10@northwind.test"),
        Reply(401),
        Reply(delay=5),
        Reply(delay=5),
        Reply(delay=5),
    )
    resolver = make_resolver(timeouts={"connect": 1, "read": 0.2, "total": 10})
    outcomes = [resolve(resolver).outcome for _ in range(4)]
    assert outcomes == [Outcome.FOUND, Outcome.FOUND, Outcome.TRANSIENT, Outcome.TRANSIENT]
    assert fake_provider.calls == 8
    closed = make_resolver(url="http://127.0.0.1:9/find?k={api_key}&n={full_name}")  # nothing listens on port 9
    assert resolve(closed).outcome is Outcome.TRANSIENT
    assert caplog.records  # the scenarios did log: the check below is not vacuous
    everything = "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
    for secret in (KEY, "Person 10 Example", "first=Person", "p10@northwind.test"):
        assert secret not in everything


def test_a_batch_keeps_to_the_providers_concurrency(fake_provider: FakeProvider, make_resolver) -> None:
    fake_provider.default = Reply(200, found("someone@northwind.test").body, delay=0.1)
    resolver = make_resolver(concurrency=2)
    lookups = [Lookup(pid, pid, "email") for pid in range(10, 70, 10)]
    answers = asyncio.run(resolver.resolve_many(lookups, 64))
    assert [a.outcome for a in answers.values()] == [Outcome.FOUND] * 6
    assert (fake_provider.calls, fake_provider.most_in_flight) == (6, 2)


def test_one_deadline_bounds_the_whole_batch(fake_provider: FakeProvider, make_resolver) -> None:
    fake_provider.default = Reply(delay=5)
    resolver = make_resolver(concurrency=1, timeouts={"connect": 1, "read": 3, "total": 0.3})
    lookups = [Lookup(pid, pid, "email") for pid in (10, 20, 30, 40)]
    answers = asyncio.run(resolver.resolve_many(lookups, 64))
    assert [a.outcome for a in answers.values()] == [Outcome.TRANSIENT] * 4
    assert fake_provider.calls == 1  # the others, queued behind it, were past the batch's deadline: no call
