"""The people picked on an event's pages and what unlocking their emails would cost (the sticky bar).

The selection lives in the page's query string (repeated ``selected`` ids), never on the server, so it survives
paging, Back and reload. Its estimate is always the server's precheck: the bar never computes a price itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.tasks import MAX_IDS_PER_TASK
from contactvault.server.runtime import Runtime
from contactvault.server.services import unlocks

MAX_SELECTION = MAX_IDS_PER_TASK  # one unlock task takes at most this many people


@dataclass(frozen=True, slots=True)
class Estimate:
    """What the selection would cost now, from the precheck (email channel); zeros for an empty selection."""

    selected: int
    chargeable: int = 0
    credits: int = 0
    unit_cost: int = 0
    free: int = 0  # already unlocked by this account: cost nothing
    in_progress: int = 0  # in one of this account's unfinished unlocks
    ineligible: int = 0  # not people of this event (unknown or not attending)
    available: int = 0

    @property
    def over_limit(self) -> bool:
        """More people than one unlock takes."""
        return self.selected > MAX_SELECTION

    @property
    def at_limit(self) -> bool:
        """Exactly as many as one unlock takes: ticking more will be refused."""
        return self.selected == MAX_SELECTION

    @property
    def balance_after(self) -> int:
        """What would be left to spend (negative when the balance does not cover it)."""
        return self.available - self.credits

    @property
    def enough(self) -> bool:
        """Whether the balance covers the chargeable people."""
        return self.balance_after >= 0

    @property
    def can_review(self) -> bool:
        """Whether the confirm page has something to show."""
        return 0 < self.selected <= MAX_SELECTION

    @property
    def announcement(self) -> str:
        """One sentence for the live region after the bar changes."""
        if self.selected == 0:
            return "Nothing selected."
        if self.over_limit:
            return f"{self.selected:,} selected: over the limit of {MAX_SELECTION}."
        return f"{self.selected:,} selected: {self.chargeable:,} to unlock for {self.credits:,} credits."


def estimate(rt: Runtime, account_id: int, event_id: int, selected: Sequence[int]) -> Estimate:
    """The precheck of unlocking the selected people's emails; no query when nothing (or too much) is selected."""
    if not selected or len(selected) > MAX_SELECTION:
        return Estimate(selected=len(selected))
    result = unlocks.precheck(rt, account_id, Channel.EMAIL, str(event_id), [str(i) for i in selected])
    c = result.classification
    if c is None:  # the event vanished between the page and the bar: nothing of it can be unlocked
        return Estimate(selected=len(selected), ineligible=len(selected), available=result.available_balance)
    return Estimate(
        selected=len(selected),
        chargeable=len(c.chargeable),
        credits=result.credits,
        unit_cost=result.unit_cost,
        free=len(c.already_unlocked),
        in_progress=len(c.unlocking),
        ineligible=len(c.missing) + len(c.unlinked) + len(c.invalid),
        available=result.available_balance,
    )
