"""worker/pipeline.ResolverChain semantics (research §5.2), with scripted resolvers and no database."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping, Sequence

import pytest

from contactvault.server.domain.resolution import deferred
from contactvault.server.worker import pipeline
from contactvault.server.worker.pipeline import ResolverChain
from contactvault.server.worker.resolvers.base import (
    INELIGIBLE,
    NOT_FOUND,
    TRANSIENT,
    Lookup,
    Outcome,
    Resolution,
    Resolver,
)


def found(score: int, status: str = "valid", source: str = "x") -> Resolution:
    return Resolution(Outcome.FOUND, b"sealed", b"hash", source, status, score)


class Scripted(Resolver):
    """Answers each person id from a script (not found otherwise) and records whom it was asked about."""

    def __init__(self, name: str, script: Mapping[int, Resolution], *, inferred: bool = True) -> None:
        self.name = name
        self.script = dict(script)
        self.inferred = inferred
        self.asked: list[int] = []

    async def resolve(self, lookup: Lookup) -> Resolution:
        self.asked.append(lookup.personnel_id)
        return self.script.get(lookup.personnel_id, NOT_FOUND)


class NoDb:
    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        yield None


class Hasher:
    def lookup_hash(self, kind: str, value: str) -> bytes:
        return f"{kind}:{value}".encode()


class Run:
    """One batch through a chain of ``resolvers``: its answers, and the chain (for its fallbacks)."""

    def __init__(self, resolvers: Sequence[Resolver], people: Sequence[int] = (1,), floor: str | None = None) -> None:
        self.chain = ResolverChain(NoDb(), Hasher(), resolvers, 4)  # type: ignore[arg-type]
        self.answers = asyncio.run(self.chain.resolve([Lookup(p, p, "email", floor) for p in people]))


def run(resolvers: Sequence[Resolver], people: Sequence[int] = (1,), floor: str | None = None) -> Run:
    return Run(resolvers, people, floor)


@pytest.fixture(autouse=True)
def _no_suppressions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "has_suppressions", lambda conn: False)


def answers(batch: Run) -> dict[int, Resolution]:
    return batch.answers


def test_a_transient_does_not_stop_the_chain_and_a_later_find_wins() -> None:
    first, second = Scripted("a", {1: TRANSIENT}), Scripted("b", {1: found(95)})
    assert answers(run([first, second])) == {1: found(95)}
    assert second.asked == [1]


def test_nothing_deliverable_and_a_transient_is_transient_even_after_a_deferral() -> None:
    chain = run([Scripted("a", {1: deferred(30)}), Scripted("b", {1: TRANSIENT}), Scripted("c", {})])
    assert answers(chain) == {1: TRANSIENT}


def test_deferrals_alone_defer_with_the_smallest_retry_after() -> None:
    last = Scripted("c", {})
    chain = run([Scripted("a", {1: deferred(30)}), Scripted("b", {1: deferred(7)}), last])
    assert answers(chain) == {1: deferred(7)}
    assert last.asked == [1]


def test_ineligible_stops_the_chain() -> None:
    later = Scripted("b", {1: found(99)})
    assert answers(run([Scripted("a", {1: INELIGIBLE}), later])) == {1: INELIGIBLE}
    assert later.asked == []


def test_a_deliverable_find_stops_the_chain() -> None:
    later = Scripted("b", {1: found(99)})
    assert answers(run([Scripted("a", {1: found(80)}), later])) == {1: found(80)}
    assert later.asked == []


def test_a_find_below_the_threshold_is_a_fallback_and_later_resolvers_are_asked() -> None:
    weak = found(45, "accept_all")
    better = Scripted("b", {1: found(64, "accept_all")})
    assert answers(run([Scripted("a", {1: weak}), better])) == {1: found(64, "accept_all")}
    assert better.asked == [1]


def test_an_undeliverable_fallback_is_never_delivered_but_is_kept_for_inspection() -> None:
    chain = run([Scripted("a", {1: found(45, "accept_all")}), Scripted("b", {1: found(30, "unknown")})])
    assert answers(chain) == {1: NOT_FOUND}
    assert chain.chain.fallbacks == {1: found(45, "accept_all")}


def test_the_tasks_floor_makes_an_accept_all_find_a_fallback() -> None:
    later = Scripted("b", {1: found(90)})
    assert answers(run([Scripted("a", {1: found(70, "accept_all")}), later], floor="valid")) == {1: found(90)}
    assert answers(run([Scripted("a", {1: found(70, "accept_all")})], floor="accept_all")) == {
        1: found(70, "accept_all")
    }


def test_a_stored_value_is_delivered_whatever_its_stored_verification() -> None:
    later = Scripted("b", {1: found(99)})
    vault = Scripted("vault", {1: found(0, "unknown")}, inferred=False)
    assert answers(run([vault, later])) == {1: found(0, "unknown")}
    assert later.asked == []


def test_each_item_of_a_batch_follows_its_own_path() -> None:
    a = Scripted("a", {1: found(95), 2: TRANSIENT, 3: INELIGIBLE, 4: deferred(5)})
    b = Scripted("b", {2: found(90), 4: NOT_FOUND})
    chain = run([a, b], people=(1, 2, 3, 4, 5))
    assert answers(chain) == {1: found(95), 2: found(90), 3: INELIGIBLE, 4: deferred(5), 5: NOT_FOUND}
    assert sorted(b.asked) == [2, 4, 5]
