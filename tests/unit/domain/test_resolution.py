"""domain/resolution: what a resolver can answer, as plain values."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from contactvault.server.domain.resolution import (
    INELIGIBLE,
    NOT_FOUND,
    TRANSIENT,
    Lookup,
    Outcome,
    Resolution,
    deferred,
)


def test_the_outcomes_are_the_five_answers_a_resolver_can_give() -> None:
    assert [o.value for o in Outcome] == ["found", "not_found", "ineligible", "transient", "deferred"]
    assert Outcome("not_found") is Outcome.NOT_FOUND


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [(NOT_FOUND, Outcome.NOT_FOUND), (INELIGIBLE, Outcome.INELIGIBLE), (TRANSIENT, Outcome.TRANSIENT)],
)
def test_the_ready_made_answers_carry_their_outcome_and_no_value(answer: Resolution, outcome: Outcome) -> None:
    assert answer.outcome is outcome
    assert dataclasses.astuple(answer)[1:] == (None,) * 7
    assert answer == Resolution(outcome)


def test_a_found_answer_carries_the_sealed_value_and_its_hash() -> None:
    checked = datetime(2026, 11, 30, tzinfo=UTC)
    found = Resolution(Outcome.FOUND, b"sealed", b"hash", "vault", "valid", 97, checked)
    assert (found.value_encrypted, found.value_hash, found.source) == (b"sealed", b"hash", "vault")
    assert (found.verification_status, found.verification_score, found.checked_at) == ("valid", 97, checked)


@pytest.mark.parametrize("value", [NOT_FOUND, Lookup(1, 2, "email")])
def test_answers_and_lookups_are_immutable(value: object) -> None:
    field = dataclasses.fields(value)[0].name  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, None)


def test_a_lookup_is_a_value_usable_as_a_key() -> None:
    assert Lookup(1, 2, "email") == Lookup(1, 2, "email")
    assert len({Lookup(1, 2, "email"), Lookup(1, 2, "email"), Lookup(1, 2, "phone")}) == 2


@pytest.mark.parametrize(("asked", "kept"), [(300.0, 300.0), (2.5, 2.5), (0.0, 1.0), (-5.0, 1.0)])
def test_a_deferral_carries_when_to_come_back_at_least_a_second(asked: float, kept: float) -> None:
    answer = deferred(asked)
    assert (answer.outcome, answer.retry_after, answer.value_encrypted) == (Outcome.DEFERRED, kept, None)
