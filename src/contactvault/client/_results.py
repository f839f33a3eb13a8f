"""What the unlock workflow reports: the estimate shown before spending, progress, and the final result.

These are plain frozen dataclasses (no I/O, no pydantic) so that the CLI can render them and tests can compare
them. Addresses are excluded from every repr.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ._models import Channel, Verification
from ._routes import channel_spec

__all__ = [
    "FAILURE_GROUPS",
    "DeliveredContact",
    "FailedContact",
    "Reconciliation",
    "SkippedContact",
    "UnlockEstimate",
    "UnlockProgress",
    "UnlockResult",
]

# Failed items are grouped under their errorCode when it is one of these, else under "OTHER".
FAILURE_GROUPS = ("UNRESOLVED", "INELIGIBLE", "CREDIT_CAP_REACHED", "TASK_FAILED", "OTHER")


@dataclasses.dataclass(frozen=True)
class SkippedContact:
    """A person the workflow did not submit (or the server did not charge), and why."""

    personnel_id: str
    reason: str


@dataclasses.dataclass(frozen=True)
class FailedContact:
    """A person submitted in a task whose item ended without a deliverable address."""

    personnel_id: str
    error_code: str
    task_id: str | None = None


@dataclasses.dataclass(frozen=True)
class DeliveredContact:
    """An unlocked address with the context needed to export it."""

    personnel_id: str
    channel: Channel
    event_id: str
    value: str = dataclasses.field(repr=False)
    full_name: str | None = None
    title: str | None = None
    company_name: str | None = None
    verification: Verification | None = None
    unlocked_at: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    # Where the value came from (the item's ``source``: ``pattern`` when inferred); None for older state files.
    source: str | None = None

    @property
    def email(self) -> str | None:
        """The address when this is an email unlock."""
        return self.value if self.channel == "email" else None

    @property
    def phone(self) -> str | None:
        """The number when this is a phone unlock."""
        return self.value if self.channel == "phone" else None


@dataclasses.dataclass(frozen=True)
class UnlockEstimate:
    """What the workflow is about to spend, passed to ``confirm`` before anything is charged."""

    event_id: str
    channel: Channel
    count: int
    credits: int
    balance: int
    max_credits: int | None = None
    personnel_ids: tuple[str, ...] = ()
    skipped: tuple[SkippedContact, ...] = ()

    @property
    def balance_after(self) -> int:
        """The balance left if every chargeable person unlocks (within ``max_credits``)."""
        if self.max_credits is None:
            return self.balance - self.credits
        # The server charges whole contacts: a cap of 40 on 15-credit emails can spend 30, never 40.
        unit = channel_spec(self.channel).unit_cost
        return self.balance - min(self.credits, self.max_credits - self.max_credits % unit)

    @property
    def is_affordable(self) -> bool:
        """True when the balance covers the estimate."""
        return self.balance_after >= 0


@dataclasses.dataclass(frozen=True)
class Reconciliation:
    """Balance before minus balance after, against what the tasks say they charged."""

    before: int
    after: int
    charged: int

    @property
    def difference(self) -> int:
        """Credits that left the balance without a matching charge (negative: came back)."""
        return (self.before - self.after) - self.charged

    @property
    def ok(self) -> bool:
        """True when the balance moved by exactly what was charged."""
        return self.difference == 0


@dataclasses.dataclass(frozen=True)
class UnlockProgress:
    """One step of a run, for progress bars: ``stage`` is lookup|estimate|started|submitted|task|batch_done|done.

    ``started`` comes once the run is in the state file (with its ``run_id``), before the first submission.
    """

    stage: str
    run_id: str | None = None
    batch: int = 0
    batches: int = 0
    task_id: str | None = None
    done: int = 0
    total: int = 0


@dataclasses.dataclass(frozen=True)
class UnlockResult:
    """The outcome of one run: delivered, failed (by errorCode), skipped (with reason), and the money."""

    event_id: str
    channel: Channel
    status: str
    run_id: str | None = None
    delivered: tuple[DeliveredContact, ...] = ()
    failed: Mapping[str, tuple[FailedContact, ...]] = dataclasses.field(default_factory=dict)
    skipped: tuple[SkippedContact, ...] = ()
    reconciliation: Reconciliation | None = None
    task_ids: tuple[str, ...] = ()
    estimate: UnlockEstimate | None = None

    @property
    def failed_count(self) -> int:
        """How many people failed, across all error codes."""
        return sum(len(group) for group in self.failed.values())

    @property
    def is_cancelled(self) -> bool:
        """True when ``confirm`` said no and nothing was spent."""
        return self.status == "cancelled"


def failure_group(error_code: str | None) -> str:
    """The ``UnlockResult.failed`` key for an item's errorCode."""
    return error_code if error_code in FAILURE_GROUPS else "OTHER"
