"""The resolver interface: given a person and a channel, answer found / not found / ineligible / transient."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    """What a resolver can answer."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    INELIGIBLE = "ineligible"
    TRANSIENT = "transient"


@dataclass(frozen=True, slots=True)
class Lookup:
    """One item to resolve."""

    item_id: int
    personnel_id: int
    channel: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """A resolver's answer; a found value arrives sealed, with its keyed hash for suppression checks."""

    outcome: Outcome
    value_encrypted: bytes | None = None
    value_hash: bytes | None = None
    source: str | None = None
    verification_status: str | None = None
    verification_score: int | None = None
    checked_at: datetime | None = None


NOT_FOUND = Resolution(Outcome.NOT_FOUND)
INELIGIBLE = Resolution(Outcome.INELIGIBLE)
TRANSIENT = Resolution(Outcome.TRANSIENT)


class Resolver(ABC):
    """Finds a person's address on one channel."""

    name: str = "resolver"

    @abstractmethod
    async def resolve(self, lookup: Lookup) -> Resolution:
        """Resolve one person."""

    async def resolve_many(self, lookups: Sequence[Lookup], concurrency: int) -> dict[int, Resolution]:
        """Resolve many, at most ``concurrency`` at a time; a crash of one lookup is a transient error."""
        gate = asyncio.Semaphore(concurrency)

        async def one(lookup: Lookup) -> tuple[int, Resolution]:
            async with gate:
                try:
                    return lookup.item_id, await self.resolve(lookup)
                except Exception:  # a resolver bug or an outage: retried later, never charged
                    return lookup.item_id, TRANSIENT

        return dict(await asyncio.gather(*(one(lk) for lk in lookups)))
