"""Task rules: the lifecycle, id parsing, classification order, retry policy."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import get_args

import pytest

from contactvault.server.api import schemas
from contactvault.server.domain.tasks import (
    UNFINISHED_ITEM_STATUSES,
    ItemStatus,
    RetryPolicy,
    TaskStatus,
    classify,
    dedupe,
    parse_person_id,
    task_status_after,
)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "12a",
        "-5",
        "0",
        "1" * 21,
        " 12",
        "99999999999999999999",
        "\uff11\uff12",
    ],  # full-width digits are not ASCII digits
)
def test_malformed_person_ids_parse_to_none(raw: str) -> None:
    assert parse_person_id(raw) is None


def test_digit_strings_parse_to_ints() -> None:
    assert parse_person_id("789") == 789
    assert parse_person_id("00042") == 42


def test_dedupe_keeps_first_seen_order() -> None:
    assert dedupe(["3", "1", "3", "2", "1"]) == ["3", "1", "2"]


def test_classify_puts_each_id_in_its_first_matching_bucket() -> None:
    result = classify(
        ["x", "9", "8", "7", "6", "5"],
        known={8, 7, 6, 5},
        linked={7, 6, 5},
        unlocked={6},
        in_flight={5, 6},
    )
    assert result.invalid == ["x"]
    assert result.missing == ["9"]
    assert result.unlinked == ["8"]
    assert result.already_unlocked == ["6"]
    assert result.unlocking == ["5"]
    assert result.chargeable == ["7"]
    assert result.skipped(["x", "9", "8", "7", "6", "5"]) == ["9", "8", "6", "5"]


def test_retry_policy_backs_off_with_capped_jitter_then_gives_up() -> None:
    policy = RetryPolicy(max_attempts=4, base_seconds=1.0, cap_seconds=3.0)
    rng = random.Random(1)
    delays = []
    for attempts in (1, 2, 3):
        decision = policy.decide(attempts, rng)
        assert decision.should_retry
        delays.append(decision.delay)
    assert all(timedelta(0) <= d <= timedelta(seconds=3) for d in delays)
    assert delays[0] <= timedelta(seconds=1)
    assert not policy.decide(4, rng).should_retry


def test_only_completed_tasks_are_terminal_and_no_task_is_ever_failed() -> None:
    assert [s for s in TaskStatus if s.is_terminal] == [TaskStatus.COMPLETED]
    assert "failed" not in {s.value for s in TaskStatus}


def test_unlocked_and_failed_items_are_terminal() -> None:
    assert {s for s in ItemStatus if s.is_terminal} == {ItemStatus.UNLOCKED, ItemStatus.FAILED}
    assert UNFINISHED_ITEM_STATUSES == (ItemStatus.PENDING, ItemStatus.PROCESSING)


def test_a_task_completes_when_no_item_is_left_unfinished() -> None:
    assert task_status_after(0) is TaskStatus.COMPLETED
    assert task_status_after(1) is TaskStatus.PROCESSING
    with pytest.raises(ValueError, match="unfinished"):
        task_status_after(-1)


def test_the_wire_enums_hold_the_domain_statuses() -> None:
    item_wire = get_args(schemas.UnlockItemPublic.model_fields["status"].annotation)
    assert set(item_wire) == {s.value for s in ItemStatus}
    task_wire = get_args(schemas.UnlockTaskPublic.model_fields["taskStatus"].annotation)
    # The wire keeps "failed" for compatibility; contactvault never sends it.
    assert set(task_wire) == {s.value for s in TaskStatus} | {"failed"}
