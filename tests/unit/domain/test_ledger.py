"""Billing rules: spend order, allocation, settlement of holds, caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contactvault.server.domain.ledger import (
    Bucket,
    BucketKind,
    HoldPart,
    Settlement,
    Slice,
    TaskHold,
    allocate,
    capture,
    hold_for,
    may_charge,
    release,
    still_needed,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def bucket(bid: int, kind: BucketKind, balance: int, expires_in_days: int | None = None) -> Bucket:
    expires = None if expires_in_days is None else NOW + timedelta(days=expires_in_days)
    return Bucket(bid, kind, balance, expires)


def test_allocate_spends_subscription_then_addon_then_gift() -> None:
    buckets = [
        bucket(1, BucketKind.GIFT, 100),
        bucket(2, BucketKind.ADDON, 20),
        bucket(3, BucketKind.SUBSCRIPTION, 10),
    ]
    assert allocate(buckets, 45, NOW) == [Slice(3, 10), Slice(2, 20), Slice(1, 15)]


def test_allocate_spends_the_earliest_expiry_first_within_a_kind() -> None:
    buckets = [
        bucket(1, BucketKind.ADDON, 50),
        bucket(2, BucketKind.ADDON, 50, 3),
        bucket(3, BucketKind.ADDON, 50, 1),
    ]
    assert allocate(buckets, 60, NOW) == [Slice(3, 50), Slice(2, 10)]


def test_allocate_ignores_expired_buckets() -> None:
    buckets = [bucket(1, BucketKind.SUBSCRIPTION, 100, -1), bucket(2, BucketKind.GIFT, 30)]
    assert allocate(buckets, 30, NOW) == [Slice(2, 30)]
    assert allocate(buckets, 31, NOW) is None


def test_allocate_of_zero_takes_nothing() -> None:
    assert allocate([bucket(1, BucketKind.GIFT, 5)], 0, NOW) == []


def test_allocate_rejects_negative_amounts() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        allocate([], -1, NOW)


def test_captures_take_from_the_front_of_a_hold_and_releases_from_the_back() -> None:
    parts = [HoldPart(1, 20), HoldPart(2, 25)]
    assert release(parts, 15) == [Slice(2, 15)]
    assert capture(parts, 15) == [Slice(1, 15)]
    assert release(parts, 10) == [Slice(2, 10)]
    assert capture(parts, 5) == [Slice(1, 5)]
    with pytest.raises(ValueError, match="exceeds"):
        capture(parts, 1)
    with pytest.raises(ValueError, match="exceeds"):
        release(parts, 1)


def test_a_failed_item_settled_before_a_delivered_one_leaves_the_charge_on_the_first_bucket() -> None:
    hold = TaskHold(15, None, 30, 0, 0, 2, [HoldPart(1, 15), HoldPart(2, 15)])
    assert hold.settle_item(charge=False) == Settlement([], [Slice(2, 15)])
    assert hold.settle_item(charge=True) == Settlement([Slice(1, 15)], [])
    assert (hold.charged, hold.released, hold.unfinished) == (15, 15, 0)


def test_hold_for_respects_the_cap_in_whole_items() -> None:
    assert hold_for(15, 10, None) == 150
    assert hold_for(15, 10, 100) == 90
    assert hold_for(15, 10, 14) == 0
    assert hold_for(150, 2, 1000) == 300


@pytest.mark.parametrize(
    ("unfinished", "charged", "cap", "expected"),
    [(3, 0, None, 45), (3, 0, 30, 30), (3, 30, 30, 0), (0, 0, None, 0), (5, 15, 40, 15)],
)
def test_still_needed_is_what_remaining_items_could_still_charge(
    unfinished: int, charged: int, cap: int | None, expected: int
) -> None:
    assert still_needed(15, unfinished, charged, cap) == expected


def test_may_charge_stops_at_the_cap() -> None:
    assert may_charge(15, 0, None)
    assert may_charge(15, 15, 30)
    assert not may_charge(15, 30, 44)
