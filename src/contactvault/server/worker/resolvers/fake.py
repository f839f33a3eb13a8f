"""A scriptable resolver for tests: chosen outcomes per person, latency, and transient failures."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping

from contactvault.server.crypto import Cipher
from contactvault.server.worker.resolvers.base import (
    INELIGIBLE,
    NOT_FOUND,
    TRANSIENT,
    Lookup,
    Outcome,
    Resolution,
    Resolver,
)


class FakeResolver(Resolver):
    """Finds ``<id>@example.test`` for everyone unless told otherwise.

    ``outcomes`` maps a person id to an Outcome; ``transient_failures`` maps a person id to how many times
    it fails transiently before its real outcome; ``latency`` is awaited on every call.
    """

    name = "fake"

    def __init__(
        self,
        cipher: Cipher,
        outcomes: Mapping[int, Outcome] | None = None,
        transient_failures: Mapping[int, int] | None = None,
        latency: float = 0.0,
    ) -> None:
        self.cipher = cipher
        self.outcomes = dict(outcomes or {})
        self.transient_failures = dict(transient_failures or {})
        self.latency = latency
        self.calls: Counter[int] = Counter()

    async def resolve(self, lookup: Lookup) -> Resolution:
        """Answer as scripted."""
        self.calls[lookup.personnel_id] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.calls[lookup.personnel_id] <= self.transient_failures.get(lookup.personnel_id, 0):
            return TRANSIENT
        outcome = self.outcomes.get(lookup.personnel_id, Outcome.FOUND)
        if outcome is Outcome.NOT_FOUND:
            return NOT_FOUND
        if outcome is Outcome.INELIGIBLE:
            return INELIGIBLE
        if outcome is Outcome.TRANSIENT:
            return TRANSIENT
        value = (
            f"p{lookup.personnel_id}@example.test" if lookup.channel == "email" else f"+1555{lookup.personnel_id:07d}"
        )
        return Resolution(
            Outcome.FOUND,
            self.cipher.seal(value),
            self.cipher.lookup_hash(lookup.channel, value),
            self.name,
            "valid",
            90,
            None,
        )
