"""Property: whatever the outcomes and the order items settle in, what a task charges is the spend-order
allocation of its final charge, and everything else it held is given back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from hypothesis import assume, given
from hypothesis import strategies as st

from contactvault.server.domain.ledger import (
    Bucket,
    BucketKind,
    HoldPart,
    Slice,
    TaskHold,
    allocate,
    hold_for,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)

buckets_strategy = st.lists(
    st.tuples(
        st.sampled_from(list(BucketKind)),
        st.integers(min_value=1, max_value=120),
        st.one_of(st.none(), st.integers(min_value=1, max_value=60)),
    ),
    min_size=1,
    max_size=6,
).map(
    lambda rows: [
        Bucket(bid, kind, balance, None if days is None else NOW + timedelta(days=days))
        for bid, (kind, balance, days) in enumerate(rows, start=1)
    ]
)


def per_bucket(slices: Iterable[Slice]) -> Counter[int]:
    totals: Counter[int] = Counter()
    for s in slices:
        totals[s.bucket_id] += s.amount
    return +totals


@given(
    buckets=buckets_strategy,
    price=st.sampled_from([5, 15]),
    delivered=st.lists(st.booleans(), min_size=1, max_size=12),
    cap=st.one_of(st.none(), st.integers(min_value=0, max_value=200)),
    order_seed=st.randoms(use_true_random=False),
)
def test_charged_slices_are_the_spend_order_allocation_of_the_final_charge(
    buckets: list[Bucket], price: int, delivered: list[bool], cap: int | None, order_seed: object
) -> None:
    held = hold_for(price, len(delivered), cap)
    slices = allocate(buckets, held, NOW)
    assume(slices is not None)  # otherwise the submission is refused (402) and nothing is held
    assert slices is not None
    hold = TaskHold(price, cap, held, 0, 0, len(delivered), [HoldPart(s.bucket_id, s.amount) for s in slices])
    order = list(range(len(delivered)))
    order_seed.shuffle(order)  # type: ignore[attr-defined]
    captured: list[Slice] = []
    released: list[Slice] = []
    for i in order:
        settled = hold.settle_item(charge=delivered[i] and hold.may_charge())
        captured += settled.captured
        released += settled.released
    assert per_bucket(captured) == per_bucket(allocate(buckets, hold.charged, NOW) or [])
    assert per_bucket(captured) + per_bucket(released) == per_bucket(slices)
    assert (hold.unfinished, hold.held) == (0, hold.charged + hold.released)
    assert all(p.settled == p.amount for p in hold.parts)
