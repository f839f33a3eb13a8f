"""Quotes: is the price a precheck promised still the price of a submission (pure rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Priced:
    """What a submission charges: for which event, which chargeable ids (sorted), how many credits."""

    event_id: int
    personnel_ids: tuple[int, ...]
    credits: int


def is_live(expires_at: datetime, now: datetime) -> bool:
    """Whether a quote may still be confirmed at ``now``."""
    return now < expires_at


def price_changes(quoted: Priced, now: Priced) -> dict[str, Any] | None:
    """None when ``now`` is exactly what was quoted; else what changed (the ``details`` of ``PRICE_CHANGED``):
    always the credits quoted and now, and the ids no longer / newly chargeable when those differ."""
    if quoted == now:
        return None
    details: dict[str, Any] = {"quoted": quoted.credits, "now": now.credits}
    if quoted.event_id != now.event_id:
        details["event_id"] = {"quoted": str(quoted.event_id), "now": str(now.event_id)}
    before, after = set(quoted.personnel_ids), set(now.personnel_ids)
    if before != after:
        details["no_longer_chargeable"] = [str(i) for i in sorted(before - after)]
        details["newly_chargeable"] = [str(i) for i in sorted(after - before)]
    return details
