"""The resolution step: suppression first (always), then the resolvers in order (research §5.2).

- A suppressed person ends ``INELIGIBLE`` before any resolver. An email item whose person's company domain is on
  the list ends ``INELIGIBLE`` before the first inferring resolver (pattern, providers), so that no DNS, SMTP or
  HTTP traffic is made about the company's people; the vault still answers (a value at a listed domain is refused
  by the record step, and the vault's re-verification never probes it).

- ``INELIGIBLE`` from any resolver stops the chain for that item.
- A deliverable ``FOUND`` stops it. A ``FOUND`` the delivery rule would not deliver (an inferred value below the
  threshold or the task's ``verification_min``) is kept as the item's fallback (the best score wins) while later
  resolvers are asked: a provider may do better.
- ``TRANSIENT`` and ``DEFERRED`` do not stop the chain: they are remembered and later resolvers are still asked.
- At the end, with nothing deliverable: any transient -> ``TRANSIENT`` (retried, an attempt used); else any deferral
  -> ``DEFERRED`` with the smallest ``retry_after``; else ``NOT_FOUND`` (a fallback is never delivered or charged;
  ``ResolverChain.fallbacks`` keeps the last batch's for inspection).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from contactvault.server import metrics
from contactvault.server.crypto import Cipher
from contactvault.server.db.engine import Database, Transaction
from contactvault.server.db.evidence import person_refs
from contactvault.server.domain.resolution import deferred
from contactvault.server.domain.scoring import VerificationMin, VerificationStatus, delivery
from contactvault.server.services.suppressions import company_domain_hash, has_suppressions, suppressed_hashes
from contactvault.server.worker.resolvers.base import (
    INELIGIBLE,
    NOT_FOUND,
    TRANSIENT,
    Lookup,
    Outcome,
    Resolution,
    Resolver,
)


def deliverable(answer: Resolution, lookup: Lookup, *, inferred: bool) -> bool:
    """Whether the delivery rule delivers this FOUND (a value a non-inferring resolver found always is)."""
    if not inferred:
        return True
    statuses = {s.value for s in VerificationStatus}
    status = VerificationStatus(answer.verification_status) if answer.verification_status in statuses else None
    floors = {m.value for m in VerificationMin}
    floor = VerificationMin(lookup.verification_min) if lookup.verification_min in floors else None
    return delivery(status, answer.verification_score or 0, inferred=True, verification_min=floor).deliver


def _points(answer: Resolution) -> int:
    return answer.verification_score or 0


@dataclass
class Tally:
    """What the resolvers said so far about one item that no answer has settled."""

    transient: bool = False
    retry_after: list[float] = field(default_factory=list)
    fallback: Resolution | None = None

    def keep(self, answer: Resolution) -> None:
        """Remember a non-settling answer (transient, deferral, or an undeliverable FOUND)."""
        if answer.outcome is Outcome.TRANSIENT:
            self.transient = True
        elif answer.outcome is Outcome.DEFERRED:
            self.retry_after.append(answer.retry_after if answer.retry_after is not None else 1.0)
        elif answer.outcome is Outcome.FOUND and (self.fallback is None or _points(answer) > _points(self.fallback)):
            self.fallback = answer

    def final(self) -> Resolution:
        """The answer when no resolver settled the item."""
        if self.transient:
            return TRANSIENT
        if self.retry_after:
            return deferred(min(self.retry_after))
        return NOT_FOUND


def settles(answer: Resolution, lookup: Lookup, *, inferred: bool) -> bool:
    """Whether this answer ends the chain for the item."""
    if answer.outcome is Outcome.INELIGIBLE:
        return True
    return answer.outcome is Outcome.FOUND and deliverable(answer, lookup, inferred=inferred)


class ResolverChain:
    """Runs the person suppression check and the resolvers for a batch; opens one read and no write transaction."""

    def __init__(self, db: Database, cipher: Cipher, resolvers: Sequence[Resolver], concurrency: int) -> None:
        self.db = db
        self.cipher = cipher
        self.resolvers = list(resolvers)
        self.concurrency = concurrency
        self.fallbacks: dict[int, Resolution] = {}

    async def resolve(self, lookups: Sequence[Lookup]) -> dict[int, Resolution]:
        """An answer for every lookup."""
        with self.db.read() as conn:
            any_suppressed = has_suppressions(conn)
            person_hashes = {lk.item_id: self.cipher.lookup_hash("person", str(lk.personnel_id)) for lk in lookups}
            blocked = suppressed_hashes(conn, list(person_hashes.values())) if any_suppressed else set()
            company_blocked = self._listed_companies(conn, lookups) if any_suppressed else set()
        results: dict[int, Resolution] = {}
        todo = []
        for lk in lookups:
            if person_hashes[lk.item_id] in blocked:
                results[lk.item_id] = INELIGIBLE
            else:
                todo.append(lk)
        tallies = {lk.item_id: Tally() for lk in todo}
        for resolver in self.resolvers:
            if resolver.inferred and company_blocked:
                # The company asked never to be contacted: no guess, no provider call about its people.
                results.update({lk.item_id: INELIGIBLE for lk in todo if lk.item_id in company_blocked})
                todo = [lk for lk in todo if lk.item_id not in company_blocked]
            if not todo:
                break
            answers = await resolver.resolve_many(todo, self.concurrency)
            next_round = []
            for lk in todo:
                answer = answers.get(lk.item_id, NOT_FOUND)
                metrics.RESOLVER_CALLS.labels(resolver=resolver.name, outcome=answer.outcome.value).inc()
                if settles(answer, lk, inferred=resolver.inferred):
                    results[lk.item_id] = answer
                else:
                    tallies[lk.item_id].keep(answer)
                    next_round.append(lk)
            todo = next_round
        for lk in todo:
            results[lk.item_id] = tallies[lk.item_id].final()
        self.fallbacks = {lk.item_id: f for lk in todo if (f := tallies[lk.item_id].fallback) is not None}
        # An address on the opt-out list is never revealed, whoever found it: ``outcomes.record`` checks the value
        # hashes (and the person again) inside the write that would reveal it, which is what makes an opt-out win.
        return results

    def _listed_companies(self, conn: Transaction, lookups: Sequence[Lookup]) -> set[int]:
        """The email items whose person's company domain is on the opt-out list."""
        emails = [lk for lk in lookups if lk.channel == "email"]
        if not emails:
            return set()
        refs = person_refs(conn, [lk.personnel_id for lk in emails])
        hashes: dict[int, bytes] = {}
        for lk in emails:
            ref = refs.get(lk.personnel_id)
            digest = company_domain_hash(self.cipher, ref.company_domain) if ref is not None else None
            if digest is not None:
                hashes[lk.item_id] = digest
        listed = suppressed_hashes(conn, sorted(set(hashes.values()))) if hashes else set()
        return {item_id for item_id, digest in hashes.items() if digest in listed}
