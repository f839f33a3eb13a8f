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
expire     -n               0
=========  ===============  ==============

An ``expire`` posting takes what is left spendable in a bucket once it has expired (``services/expiry``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
    EXPIRE = "expire"


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


def capture(parts: Sequence[HoldPart], amount: int) -> list[Slice]:
    """Charge ``amount`` from the front of a hold (it was taken in spend order); mutates ``parts``."""
    return _settle(parts, amount)


def release(parts: Sequence[HoldPart], amount: int) -> list[Slice]:
    """Give ``amount`` back from the back of a hold; mutates ``parts``.

    Captures eat the hold from the front and releases from the back, so whatever order items settle in, what is
    finally charged is the hold's first credits: the spend-order allocation of the final charge.
    """
    return _settle(list(reversed(parts)), amount)


def _settle(parts: Sequence[HoldPart], amount: int) -> list[Slice]:
    # The settled credits of a hold are a charged prefix and a released suffix; the free ones lie between. One
    # ``settled`` count per part is enough: a part's free credits are always next to the free region.
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


@dataclass(frozen=True, slots=True)
class Settlement:
    """What settling one item moved: slices captured (charged) and slices released (given back)."""

    captured: list[Slice]
    released: list[Slice]


@dataclass(slots=True)
class TaskHold:
    """A task's hold as settlement sees it: what was held, charged and released so far, and its bucket parts."""

    price: int
    max_credits: int | None
    held: int
    charged: int
    released: int
    unfinished: int
    parts: list[HoldPart] = field(default_factory=list)

    def may_charge(self) -> bool:
        """Whether one more delivery fits under the task's cap."""
        return may_charge(self.price, self.charged, self.max_credits)

    def settle_item(self, *, charge: bool) -> Settlement:
        """One item ended: capture its price when ``charge``, then release what the rest can no longer charge."""
        self.unfinished -= 1
        captured: list[Slice] = []
        if charge:
            self.charged += self.price
            captured = capture(self.parts, self.price)
        surplus = (self.held - self.charged - self.released) - still_needed(
            self.price, self.unfinished, self.charged, self.max_credits
        )
        released: list[Slice] = []
        if surplus > 0:
            self.released += surplus
            released = release(self.parts, surplus)
        return Settlement(captured, released)


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
