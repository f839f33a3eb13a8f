"""The vault resolver: contact points already stored in the directory (one query per batch)."""

from __future__ import annotations

from collections.abc import Sequence

from contactvault.server.db.contact_points import stored_contacts
from contactvault.server.db.engine import Database
from contactvault.server.worker.resolvers.base import NOT_FOUND, Lookup, Outcome, Resolution, Resolver
from contactvault.server.worker.resolvers.reverify import Reverifier


class VaultResolver(Resolver):
    """Answers from ``contact_points``; never transient unless the database is down."""

    name = "vault"

    def __init__(self, db: Database, reverifier: Reverifier | None = None) -> None:
        self.db = db
        self.reverifier = reverifier  # stale emails probed again before delivery (SMTP probing on)

    async def resolve(self, lookup: Lookup) -> Resolution:
        """Resolve one person."""
        return (await self.resolve_many([lookup], 1))[lookup.item_id]

    async def resolve_many(self, lookups: Sequence[Lookup], concurrency: int) -> dict[int, Resolution]:
        """Resolve a batch with one read per channel."""
        found: dict[tuple[int, str], Resolution] = {}
        for channel in {lk.channel for lk in lookups}:
            ids = [lk.personnel_id for lk in lookups if lk.channel == channel]
            with self.db.read() as conn:
                rows = stored_contacts(conn, channel, ids)
            for r in rows:
                found[(r.personnel_id, channel)] = Resolution(
                    Outcome.FOUND,
                    r.value_encrypted,
                    r.value_hash,
                    r.source or self.name,
                    r.verification_status,
                    r.verification_score,
                    r.checked_at,
                )
        if self.reverifier is not None:
            for (personnel_id, channel), resolution in list(found.items()):
                if channel == "email":
                    found[(personnel_id, channel)] = await self.reverifier.check(personnel_id, resolution)
        return {lk.item_id: found.get((lk.personnel_id, lk.channel), NOT_FOUND) for lk in lookups}
