"""Settling one finished item: its final status and error code, and the credits it captures and releases.

A pure function over plain data: the service loads a task's hold, calls ``settle_item`` for each item that reached
a terminal state (in item order), writes what the returned value says, and keeps the returned hold for the next
item of the same task.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from contactvault.server.domain.ledger import HoldPart, Slice, TaskHold
from contactvault.server.domain.resolution import Outcome
from contactvault.server.domain.tasks import ErrorCode, ItemStatus

_FAILURES: dict[Outcome, ErrorCode] = {
    Outcome.NOT_FOUND: ErrorCode.UNRESOLVED,
    Outcome.INELIGIBLE: ErrorCode.INELIGIBLE,
    Outcome.TRANSIENT: ErrorCode.TASK_FAILED,  # retries exhausted
}


@dataclass(frozen=True, slots=True)
class ItemSettlement:
    """What settling one item decided.

    ``delivers``: the value is revealed to the account for the first time (an unlock is recorded and charged);
    an item found but already unlocked by another task is ``unlocked`` without delivering or charging again.
    """

    status: ItemStatus
    error: ErrorCode | None
    charged: int
    delivers: bool
    captured: tuple[Slice, ...]
    released: tuple[Slice, ...]
    hold: TaskHold  # the task's hold after this item (the one passed in is left as it was)


def settle_item(hold: TaskHold, outcome: Outcome, *, already_unlocked: bool) -> ItemSettlement:
    """Settle one item that ended with ``outcome`` (``TRANSIENT`` once retries are exhausted).

    A found value is charged when it was not unlocked before and one more delivery fits under the task's cap;
    found but over the cap fails with ``CREDIT_CAP_REACHED``. Whatever the outcome, the task's hold then gives back
    what its remaining items can no longer charge.
    """
    after = replace(hold, parts=[HoldPart(p.bucket_id, p.amount, p.settled) for p in hold.parts])
    status, error, delivers = ItemStatus.FAILED, _FAILURES.get(outcome), False
    if outcome is Outcome.FOUND:
        if already_unlocked:
            status = ItemStatus.UNLOCKED  # delivered before (another task): shown again, never charged again
        elif after.may_charge():
            status, delivers = ItemStatus.UNLOCKED, True
        else:
            error = ErrorCode.CREDIT_CAP_REACHED
    moved = after.settle_item(charge=delivers)
    return ItemSettlement(
        status,
        error,
        after.price if delivers else 0,
        delivers,
        tuple(moved.captured),
        tuple(moved.released),
        after,
    )
