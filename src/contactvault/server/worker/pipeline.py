"""The resolution step: suppression first (always), then each resolver in turn until one finds the person."""

from __future__ import annotations

from collections.abc import Sequence

from contactvault.server.crypto import Cipher
from contactvault.server.db.engine import Database
from contactvault.server.services.suppressions import has_suppressions, suppressed_hashes
from contactvault.server.worker.resolvers.base import (
    INELIGIBLE,
    NOT_FOUND,
    Lookup,
    Outcome,
    Resolution,
    Resolver,
)


class ResolverChain:
    """Runs the person suppression check and the resolvers for a batch; opens one read and no write transaction."""

    def __init__(self, db: Database, cipher: Cipher, resolvers: Sequence[Resolver], concurrency: int) -> None:
        self.db = db
        self.cipher = cipher
        self.resolvers = list(resolvers)
        self.concurrency = concurrency

    async def resolve(self, lookups: Sequence[Lookup]) -> dict[int, Resolution]:
        """An answer for every lookup."""
        with self.db.read() as conn:
            any_suppressed = has_suppressions(conn)
            person_hashes = {lk.item_id: self.cipher.lookup_hash("person", str(lk.personnel_id)) for lk in lookups}
            blocked = suppressed_hashes(conn, list(person_hashes.values())) if any_suppressed else set()
        results: dict[int, Resolution] = {}
        todo = []
        for lk in lookups:
            if person_hashes[lk.item_id] in blocked:
                results[lk.item_id] = INELIGIBLE
            else:
                todo.append(lk)
        for resolver in self.resolvers:
            if not todo:
                break
            answers = await resolver.resolve_many(todo, self.concurrency)
            next_round = []
            for lk in todo:
                answer = answers.get(lk.item_id, NOT_FOUND)
                if answer.outcome is Outcome.NOT_FOUND:
                    next_round.append(lk)
                else:
                    results[lk.item_id] = answer
            todo = next_round
        for lk in todo:
            results[lk.item_id] = NOT_FOUND
        # An address on the opt-out list is never revealed, whoever found it: ``outcomes.record`` checks the value
        # hashes (and the person again) inside the write that would reveal it, which is what makes an opt-out win.
        return results
