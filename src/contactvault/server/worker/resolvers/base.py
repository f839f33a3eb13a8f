"""The resolver interface: given a person and a channel, answer found / not found / ineligible / transient.

The answers themselves (``Outcome``, ``Resolution``, ``Lookup``) are domain vocabulary, re-exported here.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence

from contactvault.server.domain.resolution import INELIGIBLE, NOT_FOUND, TRANSIENT, Lookup, Outcome, Resolution

__all__ = ["INELIGIBLE", "NOT_FOUND", "TRANSIENT", "Lookup", "Outcome", "Resolution", "Resolver"]


class Resolver(ABC):
    """Finds a person's address on one channel."""

    name: str = "resolver"
    # True for a resolver whose finds are inferred (pattern, providers): the chain applies the delivery rule to
    # them; a stored (vault) value is delivered with its stored verification.
    inferred: bool = False

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
