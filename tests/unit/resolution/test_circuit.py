"""The provider guards: a breaker that opens after N failures and half-opens after T, and a sliding budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contactvault.server.domain.circuit import BreakerState, CallBudget, CircuitBreaker

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_breaker_opens_after_threshold_failures_in_a_row() -> None:
    breaker = CircuitBreaker(threshold=3, open_seconds=30)
    for _ in range(2):
        assert breaker.allow(T0)
        breaker.record_failure(T0)
    assert breaker.state(T0) is BreakerState.CLOSED
    breaker.record_failure(T0)
    assert breaker.state(T0) is BreakerState.OPEN
    assert not breaker.allow(at(29.9))
    assert breaker.retry_in(at(10)) == pytest.approx(20)


def test_a_success_resets_the_count_of_failures() -> None:
    breaker = CircuitBreaker(threshold=2, open_seconds=30)
    breaker.record_failure(T0)
    breaker.record_success()
    breaker.record_failure(T0)
    assert breaker.state(T0) is BreakerState.CLOSED


def test_after_the_open_time_one_trial_goes_through_and_its_success_closes() -> None:
    breaker = CircuitBreaker(threshold=1, open_seconds=30)
    breaker.record_failure(T0)
    assert breaker.state(at(30)) is BreakerState.HALF_OPEN
    assert breaker.allow(at(30))
    assert not breaker.allow(at(30))  # only one trial in flight
    breaker.record_success()
    assert breaker.state(at(30)) is BreakerState.CLOSED
    assert breaker.allow(at(30))


def test_a_failed_trial_opens_the_circuit_for_another_period() -> None:
    breaker = CircuitBreaker(threshold=5, open_seconds=30)
    for _ in range(5):
        breaker.record_failure(T0)
    assert breaker.allow(at(31))
    breaker.record_failure(at(31))
    assert breaker.state(at(60)) is BreakerState.OPEN
    assert breaker.state(at(61)) is BreakerState.HALF_OPEN


def test_the_budget_allows_calls_per_sliding_window() -> None:
    budget = CallBudget(calls=2, window_seconds=60)
    assert budget.try_spend(T0)
    assert budget.try_spend(at(10))
    assert not budget.try_spend(at(59))
    assert budget.remaining(at(59)) == 0
    assert budget.try_spend(at(60))  # the first call left the window
    assert not budget.try_spend(at(69))
    assert budget.try_spend(at(70))


@pytest.mark.parametrize(("calls", "window"), [(0, 60), (1, 0)])
def test_a_budget_must_allow_something(calls: int, window: float) -> None:
    with pytest.raises(ValueError, match="budget"):
        CallBudget(calls, window)
