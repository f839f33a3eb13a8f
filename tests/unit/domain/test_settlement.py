"""Settling one item, on plain data: status, error code, charge, capture and release, and the cap."""

from __future__ import annotations

import pytest

from contactvault.server.domain.ledger import HoldPart, Slice, TaskHold
from contactvault.server.domain.resolution import Outcome
from contactvault.server.domain.settlement import settle_item
from contactvault.server.domain.tasks import ErrorCode, ItemStatus


def _hold(items: int, *, price: int = 15, max_credits: int | None = None, parts: tuple[int, ...] = ()) -> TaskHold:
    held = sum(parts) if parts else price * items
    split = parts or (held,)
    return TaskHold(price, max_credits, held, 0, 0, items, [HoldPart(i + 1, amount) for i, amount in enumerate(split)])


def test_a_found_value_is_delivered_and_captures_its_price_from_the_front_of_the_hold() -> None:
    hold = _hold(2, parts=(20, 10))
    settled = settle_item(hold, Outcome.FOUND, already_unlocked=False)
    assert (settled.status, settled.error, settled.charged, settled.delivers) == (ItemStatus.UNLOCKED, None, 15, True)
    assert settled.captured == (Slice(1, 15),)
    assert settled.released == ()
    assert (settled.hold.charged, settled.hold.released, settled.hold.unfinished) == (15, 0, 1)


def test_the_hold_passed_in_is_left_unchanged() -> None:
    hold = _hold(2)
    settle_item(hold, Outcome.FOUND, already_unlocked=False)
    assert (hold.charged, hold.released, hold.unfinished, hold.parts[0].settled) == (0, 0, 2, 0)


def test_a_value_unlocked_before_is_shown_again_without_a_charge_and_its_share_is_released() -> None:
    settled = settle_item(_hold(1), Outcome.FOUND, already_unlocked=True)
    assert (settled.status, settled.error, settled.charged, settled.delivers) == (ItemStatus.UNLOCKED, None, 0, False)
    assert settled.captured == ()
    assert settled.released == (Slice(1, 15),)


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (Outcome.NOT_FOUND, ErrorCode.UNRESOLVED),
        (Outcome.INELIGIBLE, ErrorCode.INELIGIBLE),
        (Outcome.TRANSIENT, ErrorCode.TASK_FAILED),
    ],
)
def test_a_failed_item_gets_its_error_code_and_releases_its_share(outcome: Outcome, code: ErrorCode) -> None:
    settled = settle_item(_hold(2, parts=(20, 10)), outcome, already_unlocked=False)
    assert (settled.status, settled.error, settled.charged, settled.delivers) == (ItemStatus.FAILED, code, 0, False)
    assert settled.captured == ()
    assert settled.released == (Slice(2, 10), Slice(1, 5))  # from the back of the hold
    assert settled.hold.released == 15


def test_a_delivery_over_the_cap_fails_with_credit_cap_reached() -> None:
    # Cap 15: the hold covers one delivery; the first found value takes it, the second is refused.
    first = settle_item(_hold(2, max_credits=15, parts=(15,)), Outcome.FOUND, already_unlocked=False)
    assert first.charged == 15
    second = settle_item(first.hold, Outcome.FOUND, already_unlocked=False)
    assert (second.status, second.error, second.charged, second.delivers) == (
        ItemStatus.FAILED,
        ErrorCode.CREDIT_CAP_REACHED,
        0,
        False,
    )
    assert second.captured == ()
    assert second.released == ()
    assert (second.hold.charged, second.hold.unfinished) == (15, 0)


def test_a_capped_hold_is_used_up_by_the_deliveries_the_cap_allows() -> None:
    # Three items at 15 capped at 30: the hold is 30, and two deliveries capture all of it, releasing nothing.
    hold = _hold(3, max_credits=30, parts=(30,))
    first = settle_item(hold, Outcome.FOUND, already_unlocked=False)
    second = settle_item(first.hold, Outcome.FOUND, already_unlocked=False)
    assert first.released == second.released == ()
    assert second.captured == (Slice(1, 15),)
    assert (second.hold.charged, second.hold.released, second.hold.unfinished) == (30, 0, 1)
    third = settle_item(second.hold, Outcome.FOUND, already_unlocked=False)
    assert third.error is ErrorCode.CREDIT_CAP_REACHED


def test_every_settled_hold_ends_fully_charged_or_released() -> None:
    hold = _hold(4, parts=(25, 35))
    outcomes = [Outcome.FOUND, Outcome.NOT_FOUND, Outcome.FOUND, Outcome.TRANSIENT]
    for outcome in outcomes:
        hold = settle_item(hold, outcome, already_unlocked=False).hold
    assert (hold.charged, hold.released, hold.unfinished) == (30, 30, 0)
    assert [p.settled for p in hold.parts] == [25, 35]
