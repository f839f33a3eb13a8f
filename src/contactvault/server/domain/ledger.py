"""Billing rules: prices, which buckets pay, and how a task's hold is settled item by item.

Credits are integers. A bucket has an available ``balance`` and a ``reserved`` part held by unfinished tasks.
Every change is a posting with an ``available_delta`` and a ``reserved_delta``; a bucket's cached numbers are
always the sums of its postings:

=========  ===============  ==============
kind       available_delta  reserved_delta
=========  ===============  ==============
grant      +n               0
hold       -n               +n
capture    0                -n
release    +n               -n
=========  ===============  ==============
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    """What is being unlocked."""

    EMAIL = "email"
    PHONE = "phone"


PRICES: dict[Channel, int] = {Channel.EMAIL: 15, Channel.PHONE: 150}


class BucketKind(StrEnum):
    """Where credits came from; also the order they are spent in."""

    SUBSCRIPTION = "subscription"
    ADDON = "addon"
    GIFT = "gift"


SPEND_ORDER: dict[BucketKind, int] = {BucketKind.SUBSCRIPTION: 0, BucketKind.ADDON: 1, BucketKind.GIFT: 2}


class PostingKind(StrEnum):
    """The kinds of ledger postings."""

    GRANT = "grant"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"


@dataclass(frozen=True, slots=True)
class Bucket:
    """A bucket as the rules need it."""

    id: int
    kind: BucketKind
    balance: int
    expires_at: datetime | None

    def is_live(self, now: datetime) -> bool:
        """Whether the bucket's credits can still be spent."""
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class Slice:
    """An amount taken from (or returned to) one bucket."""

    bucket_id: int
    amount: int


def spendable(buckets: Iterable[Bucket], now: datetime) -> list[Bucket]:
    """The live buckets with credits, in the order they are spent."""
    live = [b for b in buckets if b.balance > 0 and b.is_live(now)]
    return sorted(live, key=lambda b: (SPEND_ORDER[b.kind], b.expires_at is None, b.expires_at or now, b.id))


def allocate(buckets: Sequence[Bucket], amount: int, now: datetime) -> list[Slice] | None:
    """Take ``amount`` from the buckets in spend order; ``None`` if they cannot cover it."""
    if amount < 0:
        raise ValueError("amount must be >= 0")
    slices: list[Slice] = []
    left = amount
    for bucket in spendable(buckets, now):
        if left == 0:
            break
        take = min(bucket.balance, left)
        slices.append(Slice(bucket.id, take))
        left -= take
    return None if left else slices


@dataclass(slots=True)
class HoldPart:
    """One bucket's share of a task's hold, and how much of it is already settled."""

    bucket_id: int
    amount: int
    settled: int = 0


def take_from_hold(parts: Sequence[HoldPart], amount: int) -> list[Slice]:
    """Settle ``amount`` of a hold, front to back (the order the hold was taken); mutates ``parts``."""
    slices: list[Slice] = []
    left = amount
    for part in parts:
        if left == 0:
            break
        free = part.amount - part.settled
        if free <= 0:
            continue
        take = min(free, left)
        part.settled += take
        slices.append(Slice(part.bucket_id, take))
        left -= take
    if left:
        raise ValueError("settlement exceeds the hold")
    return slices


def hold_for(price: int, chargeable: int, max_credits: int | None) -> int:
    """Credits to hold for ``chargeable`` items, never more than the task's cap allows."""
    cost = price * chargeable
    if max_credits is None:
        return cost
    return min(cost, (max_credits // price) * price)


def still_needed(price: int, unfinished: int, charged: int, max_credits: int | None) -> int:
    """Credits a task must keep held for its ``unfinished`` items, given what it has charged so far."""
    could_deliver = unfinished
    if max_credits is not None:
        could_deliver = min(unfinished, max(0, (max_credits - charged) // price))
    return price * could_deliver


def may_charge(price: int, charged: int, max_credits: int | None) -> bool:
    """Whether one more delivery fits under the task's cap."""
    return max_credits is None or charged + price <= max_credits
