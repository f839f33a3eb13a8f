"""The pattern resolver: guess a person's work address from their company domain's learnt patterns, check the
domain's mail routing in DNS, probe the best candidates over SMTP when probing is on, and deliver only what the
delivery rule allows (``scoring.delivery``). See docs/resolution.md.

Order, per person (suppression was checked by the chain before any of this): no company domain, a free-mail or
disposable domain, or inference off -> INELIGIBLE; candidates from the vault's evidence (no DNS yet); the MX lookup
(NXDOMAIN, null MX, no mail, dead or guarded MX -> NOT_FOUND; SERVFAIL/timeout -> TRANSIENT); then either the best
candidate as ``unknown`` (probing off: never delivered by the default rule) or one probe session: accepted on a
domain that refused a random address -> ``valid``; a catch-all domain -> the best candidate as ``accept_all``;
mailbox unknown -> the next candidates; greylisting (4xx, 421) -> DEFERRED for CONTACTVAULT_GREYLIST_RETRY_AFTER, a
politeness limit -> DEFERRED for as long as the limiter asks (at most that): the item goes back to the queue with
its lease released and without using up an attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from contactvault.server.clock import Clock
from contactvault.server.crypto import Cipher
from contactvault.server.db.engine import Database
from contactvault.server.db.evidence import PersonRef, person_refs
from contactvault.server.domain.candidates import (
    DEFAULT_TOP_K,
    Candidate,
    IneligibleDomain,
    domain_refusal,
    rank_candidates,
)
from contactvault.server.domain.resolution import deferred
from contactvault.server.domain.scoring import (
    ACCEPT_ALL_MIN_SUPPORT,
    VerificationMin,
    VerificationStatus,
    delivery,
    score_candidate,
)
from contactvault.server.domain.smtp_replies import ReplyClass
from contactvault.server.runtime import Runtime
from contactvault.server.services.suppressions import has_suppressions, suppressed_hashes
from contactvault.server.worker.mail.cache import Cache, TtlCache
from contactvault.server.worker.mail.dns import MailDns, MailDomain, MailStatus
from contactvault.server.worker.mail.politeness import (
    InProcessLimiter,
    PolitenessDeferred,
    PolitenessLimiter,
    ProviderLimits,
)
from contactvault.server.worker.mail.shared import (
    SLOT_LEASE_MARGIN_SECONDS,
    DatabaseLimiter,
    catch_all_caches,
    mx_cache,
    uses_database,
    verdict_cache,
)
from contactvault.server.worker.mail.smtp import CatchAll, ProbeConfig, ProbeReport, SessionEnd, SmtpProber
from contactvault.server.worker.resolvers.base import (
    INELIGIBLE,
    NOT_FOUND,
    TRANSIENT,
    Lookup,
    Outcome,
    Resolution,
    Resolver,
)
from contactvault.server.worker.resolvers.evidence import VaultEvidence, forms_of

log = logging.getLogger("contactvault.worker")

SOURCE = "pattern"
# Probe sessions per person: the first asks the best ``max_candidates``; a second the rest, only if every one of
# those was refused as unknown.
MAX_SESSIONS = 2
# Where no known address at the domain is explained by a pattern, the prior alone ranks the candidates and a rare
# pattern sits lower: one more session, so a few more of them are asked.
NO_EVIDENCE_CANDIDATES = 9
# Strong support for the best candidate's pattern: the known addresses behind it at which the delivery rule already
# stakes money on patterns alone (a catch-all guess). With it (docs/resolution.md):
# - one session (the best ``max_candidates``): the rarer patterns a second one would ask are what it rules out;
# - on a greylisting server, where a session asks candidates it cannot verify yet only to start their clocks (an
#   RCPT now and another on the retry each), only that pattern's spellings get a clock. When the address was
#   another, the retry refuses the best one and starts the next clocks: one more wait, never a lost address.
STRONG_SUPPORT = ACCEPT_ALL_MIN_SUPPORT
# Per-address verdicts kept in the verdict cache.
VALID_MAILBOX = "valid"
ABSENT_MAILBOX = "absent"
DEFAULT_VERDICT_TTL_SECONDS = 7 * 24 * 3600.0  # as CONTACTVAULT_SMTP_CATCH_ALL_TTL_SECONDS's default


@dataclass(frozen=True, slots=True)
class Verdict:
    """The resolver's conclusion about one candidate, before the delivery rule."""

    candidate: Candidate
    status: VerificationStatus


@dataclass(frozen=True, slots=True)
class _Plan:
    """One person's ranked candidates at their company's domain, before any DNS or SMTP traffic."""

    domain: str
    personnel_id: int
    candidates: tuple[Candidate, ...]


class _Deferred(Exception):
    """The domain asked us to come back later (greylisting) or a politeness limit said wait."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after


class PatternResolver(Resolver):
    """Finds emails nobody imported; never delivers a guess the delivery rule refuses."""

    name = SOURCE
    inferred = True

    def __init__(
        self,
        db: Database,
        cipher: Cipher,
        clock: Clock,
        dns: MailDns,
        evidence: VaultEvidence,
        prober: SmtpProber | None = None,
        *,
        inference: bool = True,
        greylist_retry_after: float = 300.0,
        verification_min: VerificationMin = VerificationMin.ACCEPT_ALL,
        verdicts: Cache[str, str] | None = None,
        verdict_ttl_seconds: float = DEFAULT_VERDICT_TTL_SECONDS,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.clock = clock
        self.dns = dns
        self.evidence = evidence
        self.prober = prober
        self.inference = inference
        self.greylist_retry_after = greylist_retry_after
        self.verification_min = verification_min
        # Per-address SMTP verdicts ("valid" / "absent") keyed by the address's keyed hash: shared in scale-out, in
        # this process otherwise. A greylisting retry reads them, so it asks only the candidates that were
        # greylisted and not refused (a refused one is a known absent mailbox, skipped).
        self.verdicts: Cache[str, str] = verdicts if verdicts is not None else TtlCache(clock)
        self.verdict_ttl_seconds = verdict_ttl_seconds

    @classmethod
    def from_runtime(cls, rt: Runtime, rng: random.Random | None = None) -> PatternResolver | None:
        """The resolver the settings describe; None when no nameserver is configured (no DNS verification, so no
        inference either: the system resolver is never used)."""
        s = rt.settings
        if not s.mail_dns_servers.strip():
            return None
        config = ProbeConfig.from_settings(s)
        shared = uses_database(s, rt.db)  # several workers: politeness and caches in the database
        prober = None
        if config is not None:
            limits = ProviderLimits.from_settings(s)
            limiter: PolitenessLimiter = (
                DatabaseLimiter(rt.db, limits, s.smtp_session_seconds + SLOT_LEASE_MARGIN_SECONDS)
                if shared
                else InProcessLimiter(limits)
            )
            caches = catch_all_caches(rt.db, rt.clock) if shared else None
            prober = SmtpProber(config, rt.clock, rng or random.Random(), limiter, caches)
        return cls(
            rt.db,
            rt.cipher,
            rt.clock,
            MailDns.from_settings(s, rt.clock, mx_cache(rt.db, rt.clock) if shared else None),
            VaultEvidence(rt.db, rt.cipher, rt.clock, s.pattern_evidence_ttl_seconds),
            prober,
            inference=s.inference,
            greylist_retry_after=float(s.greylist_retry_after),
            verification_min=VerificationMin(s.verification_min),
            verdicts=verdict_cache(rt.db, rt.clock) if shared else None,
            verdict_ttl_seconds=float(s.smtp_catch_all_ttl_seconds),
        )

    async def resolve(self, lookup: Lookup) -> Resolution:
        """Resolve one person."""
        return (await self.resolve_many([lookup], 1))[lookup.item_id]

    async def resolve_many(self, lookups: Sequence[Lookup], concurrency: int) -> dict[int, Resolution]:
        """One read for the batch's people (and whether anything is opted out), their candidates ranked, one read
        for the opted-out ones among them; then each person's DNS and SMTP on their own (``concurrency`` at once)."""
        emails = [lk for lk in lookups if lk.channel == "email"]
        if not self.inference:
            # The operator forbids guessing: an email the vault lacks may not be inferred (phones are never guessed).
            return {lk.item_id: INELIGIBLE if lk.channel == "email" else NOT_FOUND for lk in lookups}
        plans: dict[int, _Plan | Resolution] = {}
        if emails:
            with self.db.read() as conn:
                refs = person_refs(conn, [lk.personnel_id for lk in emails])
                listed = has_suppressions(conn)
            plans = {lk.item_id: self._guarded_plan(lk, refs.get(lk.personnel_id)) for lk in emails}
            if listed:
                plans = self._not_opted_out(plans)
        gate = asyncio.Semaphore(concurrency)

        async def one(lookup: Lookup) -> tuple[int, Resolution]:
            plan = plans[lookup.item_id]
            if not isinstance(plan, _Plan):
                return lookup.item_id, plan
            async with gate:
                try:
                    return lookup.item_id, await self._resolve_plan(lookup, plan)
                except Exception:  # a bug or an outage: retried later, never charged
                    log.warning("pattern resolver failed for item %d", lookup.item_id, exc_info=False)
                    return lookup.item_id, TRANSIENT

        answers = dict(await asyncio.gather(*(one(lk) for lk in emails)))
        return {lk.item_id: answers.get(lk.item_id, NOT_FOUND) for lk in lookups}

    def _guarded_plan(self, lookup: Lookup, ref: PersonRef | None) -> _Plan | Resolution:
        try:
            return self._plan(ref)
        except Exception:  # a bug or an outage: retried later, never charged
            log.warning("pattern resolver failed for item %d", lookup.item_id, exc_info=False)
            return TRANSIENT

    def _plan(self, ref: PersonRef | None) -> _Plan | Resolution:
        """The person's ranked candidates at their company's domain (no traffic yet), or the answer already."""
        domain = (ref.company_domain or "").strip().rstrip(".").lower() if ref else ""
        if ref is None or not domain or domain_refusal(domain):
            return INELIGIBLE
        forms = forms_of(ref.full_name)
        if not forms:
            return NOT_FOUND
        try:
            patterns = self.evidence.patterns(domain)
            explained = sum(patterns.votes.values()) > 0
            k = DEFAULT_TOP_K if explained else NO_EVIDENCE_CANDIDATES
            ranked = rank_candidates(forms, domain, patterns, owner=ref.personnel_id, k=k)
        except (IneligibleDomain, ValueError):  # a malformed company domain is no domain
            return INELIGIBLE
        if ranked and ranked[0].support >= STRONG_SUPPORT and self.prober is not None:
            ranked = ranked[: self.prober.config.max_candidates]
        return _Plan(domain, ref.personnel_id, ranked)

    async def _resolve_plan(self, lookup: Lookup, plan: _Plan) -> Resolution:
        if not plan.candidates:
            return NOT_FOUND  # every candidate opted out: no traffic at all
        try:
            routing = await self.dns.mail_domain(plan.domain)
        except ValueError:  # a malformed company domain is no domain
            return INELIGIBLE
        if routing.status is MailStatus.TRANSIENT:
            return TRANSIENT
        if not routing.status.accepts_mail:
            return NOT_FOUND
        try:
            verdict = await self._verdict(routing, plan.candidates)
        except _Deferred as later:
            return deferred(later.retry_after)
        return self._delivered(lookup, self._unshared(plan.domain, plan.personnel_id, verdict))

    def _unshared(self, domain: str, personnel_id: int, verdict: Verdict | None) -> Verdict | None:
        """A ``valid`` verdict proves a mailbox exists, not whose it is: when a colleague of the directory (not
        only of the vault) renders the same address and does not hold another one, it stays ``unknown``."""
        if verdict is None or verdict.status is not VerificationStatus.VALID:
            return verdict
        others = self.evidence.claimants(domain).get(verdict.candidate.address, frozenset()) - {personnel_id}
        return Verdict(verdict.candidate, VerificationStatus.UNKNOWN) if others else verdict

    def _not_opted_out(self, plans: dict[int, _Plan | Resolution]) -> dict[int, _Plan | Resolution]:
        """The plans without candidates whose address is on the opt-out list (one read for the whole batch): an
        opted-out address is never probed (and could never be delivered: the recording write checks it again)."""
        hashes = {
            c.address: self.cipher.lookup_hash("email", c.address)
            for plan in plans.values()
            if isinstance(plan, _Plan)
            for c in plan.candidates
        }
        if not hashes:
            return plans
        with self.db.read() as conn:
            blocked = suppressed_hashes(conn, sorted(set(hashes.values())))
        return {
            item: plan
            if not isinstance(plan, _Plan)
            else replace(plan, candidates=tuple(c for c in plan.candidates if hashes[c.address] not in blocked))
            for item, plan in plans.items()
        }

    async def _verdict(self, routing: MailDomain, candidates: Sequence[Candidate]) -> Verdict | None:
        """What DNS (and SMTP, when probing is on) says about the candidates; None when every one was refused."""
        if self.prober is None:
            return Verdict(candidates[0], VerificationStatus.UNKNOWN)
        keys = {c.address: self._verdict_key(c.address) for c in candidates}  # one keyed hash per address
        known = self._known_verdicts(keys)
        for candidate in candidates:
            if known.get(candidate.address) == VALID_MAILBOX:
                # Every better candidate is a known absent mailbox: this one it is, without a session.
                return Verdict(candidate, VerificationStatus.VALID)
            if known.get(candidate.address) != ABSENT_MAILBOX:
                break
        candidates = [c for c in candidates if known.get(c.address) != ABSENT_MAILBOX]
        step = self.prober.config.max_candidates
        for session in range(max(MAX_SESSIONS, -(-len(candidates) // step))):
            batch = candidates[session * step : (session + 1) * step]
            if not batch:
                return None
            clocks = _clocks(candidates[session * step :])
            try:
                report = await self.prober.probe(routing, [c.address for c in batch], greylist_clocks=clocks)
            except PolitenessDeferred as wait:
                raise _Deferred(min(self.greylist_retry_after, wait.retry_after)) from None
            self._remember(report, keys)
            verdict = self._read(report, candidates, batch)
            if verdict is not None or not _all_unknown(report, batch):
                return verdict
        return None

    def _verdict_key(self, address: str) -> str:
        return self.cipher.lookup_hash("email", address).hex()

    def _known_verdicts(self, keys: dict[str, str]) -> dict[str, str]:
        """The cached verdicts of the addresses (address -> its verdict key)."""
        found = {address: self.verdicts.get(key) for address, key in keys.items()}
        return {address: verdict for address, verdict in found.items() if verdict is not None}

    def _remember(self, report: ProbeReport, keys: dict[str, str]) -> None:
        """Cache what a session proved: accepted on a domain that refused a random address, or mailbox absent."""
        for result in report.results:
            if result.reply_class is ReplyClass.ACCEPTED and report.catch_all is CatchAll.NO:
                verdict = VALID_MAILBOX
            elif result.reply_class.proves_absence:
                verdict = ABSENT_MAILBOX
            else:
                continue
            key = keys.get(result.address) or self._verdict_key(result.address)
            self.verdicts.put(key, verdict, self.verdict_ttl_seconds)

    def _read(self, report: ProbeReport, candidates: Sequence[Candidate], batch: Sequence[Candidate]) -> Verdict | None:
        if report.catch_all is CatchAll.YES:
            # The domain accepts anything: only the patterns speak for a candidate, so the best one it is.
            return Verdict(candidates[0], VerificationStatus.ACCEPT_ALL)
        by_address = {c.address: c for c in batch}
        for result in report.results:
            if result.reply_class is ReplyClass.ACCEPTED and report.catch_all is CatchAll.NO:
                return Verdict(by_address[result.address], VerificationStatus.VALID)
        if report.end in (SessionEnd.TEMPORARY, SessionEnd.BUSY):
            raise _Deferred(self.greylist_retry_after)
        if _all_unknown(report, batch):
            return None
        # A block, a deadline, a full mailbox, no answer: nothing says the mailbox exists.
        return Verdict(batch[0], VerificationStatus.UNKNOWN)

    def _floor(self, lookup: Lookup) -> VerificationMin:
        """The stricter of the operator's floor and the task's: a task may tighten the policy, never loosen it."""
        if VerificationMin.VALID in (self.verification_min, lookup.verification_min):
            return VerificationMin.VALID
        return VerificationMin.ACCEPT_ALL

    def _delivered(self, lookup: Lookup, verdict: Verdict | None) -> Resolution:
        if verdict is None:
            return NOT_FOUND
        score = score_candidate(verdict.candidate, verdict.status)
        if not delivery(verdict.status, score, inferred=True, verification_min=self._floor(lookup)).deliver:
            return NOT_FOUND
        address = verdict.candidate.address
        return Resolution(
            Outcome.FOUND,
            self.cipher.seal(address),
            self.cipher.lookup_hash("email", address),
            SOURCE,
            verdict.status.value,
            score,
            self.clock.now(),
        )


def _clocks(remaining: Sequence[Candidate]) -> int | None:
    """How many greylisting clocks a session starts (None: no bound): with strong support for the best candidate's
    pattern, the leading run of candidates of that pattern (its spellings: ``jurgen``, ``juergen``)."""
    if not remaining or remaining[0].support < STRONG_SUPPORT:
        return None
    best = remaining[0].pattern
    return next((n for n, c in enumerate(remaining) if c.pattern != best), len(remaining))


def _all_unknown(report: ProbeReport, batch: Sequence[Candidate]) -> bool:
    """Every candidate of the batch was asked and refused as a mailbox that does not exist."""
    refused = {r.address for r in report.results if r.reply_class.proves_absence}
    return report.end is SessionEnd.COMPLETED and all(c.address in refused for c in batch)
