"""Resolution benchmark (issue 13): find and verify the addresses of a generated, labelled mail world, in one run.

The world (bench/_world.py) is served on loopback by ``demo.mailworld`` (dnslib DNS, aiosmtpd MXs on 127.0.0.x).
Every person the vault lacks goes through ``resolve_person``: names -> the domain's patterns learnt from the vault
-> ranked candidates -> DNS -> one polite SMTP session (catch-all probe, up to 3 RCPTs) -> verdict, score and the
delivery rule. Greylisted items are re-queued after the (short) greylist delay without holding a slot.

Reports precision of delivered ``valid`` and ``accept_all``, recall on derivable addresses, the score's calibration
(ECE over deciles), RCPTs per resolved person, throughput as a ratio to the raw aiosmtplib <-> aiosmtpd ceiling
measured in the same run, the politeness limits as the servers observed them, and DATA commands (always 0).

Run: ``python -m bench resolution`` (``--quick`` for a small world, ``--seed N`` for another world). Writes
bench/results/resolution.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiosmtplib

from bench._metrics import (
    accuracy_metrics,
    no_mail_rcpts,
    observed_politeness,
    rcpt_metrics,
    share,
    worst_spacing,
)
from bench._world import World, generate, layout
from contactvault.server.clock import SystemClock
from contactvault.server.demo.mailworld import MailWorld, running_mail_world
from contactvault.server.domain.candidates import Candidate, IneligibleDomain, rank_candidates
from contactvault.server.domain.names import UnusableName, name_forms, parse_name
from contactvault.server.domain.patterns import DomainPatterns, Evidence, learn, pooled_prior
from contactvault.server.domain.scoring import VerificationStatus, delivery, score_candidate
from contactvault.server.domain.smtp_replies import ReplyClass
from contactvault.server.worker.mail.dns import MailDns, MailStatus, Nameserver
from contactvault.server.worker.mail.guard import AddressGuard
from contactvault.server.worker.mail.politeness import (
    InProcessLimiter,
    PolitenessDeferred,
    ProviderLimits,
)
from contactvault.server.worker.mail.smtp import CatchAll, ProbeConfig, SessionEnd, SmtpProber

ORDER = 60
RESULTS = Path(__file__).parent / "results"
HELO, MAIL_FROM = "probe.contactvault.test", "verify@contactvault.test"
THROUGHPUT_ROUNDS = 4
MAX_DEFERRALS = 30  # a deferral (greylisting, politeness) re-queues without using up an attempt; this only bounds a run


@dataclass(frozen=True)
class Knobs:
    """The world's size and the engine's settings for one run."""

    companies: int = 300
    people: int = 4000
    seed: int = 13
    greylist_wait: float = 0.5
    session_seconds: float = 3.0
    gap_seconds: float = 0.05
    concurrency: int = 50
    candidates: int = 6  # ranked per person; asked in sessions of ProbeConfig.max_candidates
    max_candidates: int = 3
    throughput_people: int = 1000


QUICK = Knobs(companies=12, people=80, greylist_wait=0.3, session_seconds=0.3, throughput_people=40)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the engine concluded for one person: the address it would deliver (or None), its status and score,
    whether the delivery rule delivers it, why; ``retry_after`` when the item must be re-queued."""

    address: str | None
    status: VerificationStatus | None
    score: int
    delivered: bool
    reason: str
    retry_after: float | None = None


def _none(reason: str) -> Verdict:
    return Verdict(None, None, 0, False, reason)


@dataclass
class Engine:
    """The building blocks one run shares (the pattern resolver's parts, driven directly)."""

    dns: MailDns
    prober: SmtpProber
    patterns: dict[str, DomainPatterns]
    candidates: int
    retry_after: float
    empty: DomainPatterns = field(default_factory=lambda: learn(()))
    deferrals: Counter[str] = field(default_factory=Counter)


async def resolve_person(engine: Engine, full_name: str, owner: int, domain: str) -> Verdict:
    """One person through names -> candidates -> DNS -> SMTP -> verdict (thin: the pattern resolver can replace it)."""
    try:
        forms = name_forms(parse_name(full_name))
        patterns = engine.patterns.get(domain, engine.empty)
        ranked = rank_candidates(forms, domain, patterns, owner=owner, k=engine.candidates)
    except (UnusableName, IneligibleDomain) as exc:
        return _none(type(exc).__name__)
    if not ranked:
        return _none("no_candidate")
    routing = await engine.dns.mail_domain(domain)
    if routing.status is MailStatus.TRANSIENT:
        return Verdict(None, None, 0, False, "dns_transient", engine.retry_after)
    if not routing.status.accepts_mail:
        return _none(routing.status.value)
    size = engine.prober.config.max_candidates
    for start in range(0, len(ranked), size):
        try:
            report = await engine.prober.probe(routing, [c.address for c in ranked[start : start + size]])
        except PolitenessDeferred as deferred:
            return Verdict(None, None, 0, False, "politeness", deferred.retry_after)
        if report.catch_all is CatchAll.YES:
            return _judged(ranked[0], VerificationStatus.ACCEPT_ALL, "catch_all")
        accepted = [r.address for r in report.results if r.reply_class is ReplyClass.ACCEPTED]
        if accepted and report.catch_all is CatchAll.NO:
            return _judged(next(c for c in ranked if c.address == accepted[0]), VerificationStatus.VALID, "accepted")
        if report.end in (SessionEnd.TEMPORARY, SessionEnd.BUSY):
            return Verdict(None, None, 0, False, report.end.value, engine.retry_after)
        if not (report.end is SessionEnd.COMPLETED and all(r.reply_class.proves_absence for r in report.results)):
            return _judged(ranked[0], VerificationStatus.UNKNOWN, report.end.value)
    return _none("not_found")


def _judged(candidate: Candidate, status: VerificationStatus, reason: str) -> Verdict:
    points = score_candidate(candidate, status)
    rule = delivery(status, points, inferred=True)
    return Verdict(candidate.address, status, points, rule.deliver, f"{reason}:{rule.reason}")


def learn_patterns(world: World) -> dict[str, DomainPatterns]:
    """Each domain's patterns from the vault's addresses only (a pooled prior across domains, then per domain)."""
    domains = {c.index: c.domain for c in world.companies}
    evidence: dict[str, list[Evidence]] = defaultdict(list)
    for person in world.people:
        if person.in_vault:
            forms = name_forms(parse_name(person.full_name))
            local = person.address.partition("@")[0]
            evidence[domains[person.company]].append(Evidence(person.id, forms, local, corroborated=True))
    prior = pooled_prior(learn(e) for e in evidence.values())
    return {domain: learn(e, prior=prior) for domain, e in evidence.items()}


async def _resolve_all(engine: Engine, targets: Sequence[tuple[int, str, str]], concurrency: int) -> dict[int, Any]:
    """Resolve every (id, name, domain) with ``concurrency`` slots; a re-queued item gives its slot back while it
    waits. Returns id -> (verdict, passes); each deferral's reason is counted in ``engine.deferrals``."""
    slots = asyncio.Semaphore(concurrency)

    async def one(owner: int, name: str, domain: str) -> tuple[Verdict, int]:
        passes = 0
        while True:
            passes += 1
            async with slots:
                verdict = await resolve_person(engine, name, owner, domain)
            if verdict.retry_after is None or passes > MAX_DEFERRALS:
                return verdict, passes
            engine.deferrals[verdict.reason] += 1
            await asyncio.sleep(verdict.retry_after)

    done = await asyncio.gather(*(one(*t) for t in targets))
    return {t[0]: d for t, d in zip(targets, done, strict=True)}


def _interleaved(world: World, people: Iterable[Any]) -> list[tuple[int, str, str]]:
    """Round-robin over companies, so concurrent sessions spread over provider keys like a real queue's mix."""
    domains = {c.index: c.domain for c in world.companies}
    by_company: dict[int, list[Any]] = defaultdict(list)
    for person in people:
        by_company[person.company].append(person)
    queues = list(by_company.values())
    order = []
    for depth in range(max((len(q) for q in queues), default=0)):
        order += [(q[depth].id, q[depth].full_name, domains[q[depth].company]) for q in queues if depth < len(q)]
    return order


class RecordingLimiter:
    """The in-process limiter, noting when each session of each key really began and ended (the prober's side of
    the politeness figures; the servers' recorders give the other side)."""

    def __init__(self, inner: InProcessLimiter) -> None:
        self.inner = inner
        self.spans: dict[str, list[list[float]]] = defaultdict(list)

    @contextlib.asynccontextmanager
    async def session(self, key: str) -> AsyncIterator[None]:
        """The inner limiter's session, timed."""
        async with self.inner.session(key):
            span = [time.monotonic(), float("inf")]
            self.spans[key].append(span)
            try:
                yield
            finally:
                span[1] = time.monotonic()

    async def block(self, key: str, seconds: float) -> None:
        """The inner limiter's block."""
        await self.inner.block(key, seconds)


def _engine(mail: MailWorld, world: World, knobs: Knobs, limiter: RecordingLimiter) -> Engine:
    clock = SystemClock()
    config = ProbeConfig(
        HELO,
        MAIL_FROM,
        port=mail.smtp_port,
        session_seconds=knobs.session_seconds,
        max_candidates=knobs.max_candidates,
        allow_loopback=True,
    )
    dns = MailDns((Nameserver("127.0.0.1", mail.dns_port),), AddressGuard(allow_loopback=True), clock, 2.0)
    prober = SmtpProber(config, clock, random.Random(world.seed), limiter)
    return Engine(dns, prober, learn_patterns(world), knobs.candidates, knobs.greylist_wait + 0.1)


async def raw_ceiling(port: int, addresses: Sequence[str], sessions: int, concurrency: int) -> float:
    """Seconds taken by ``sessions`` bare aiosmtplib sessions (EHLO, MAIL, 2 RCPT, QUIT) against the normal MX."""
    slots = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with slots:
            client = aiosmtplib.SMTP(hostname="127.0.0.2", port=port, local_hostname=HELO, start_tls=False, timeout=5)
            await client.connect()
            await client.ehlo()
            await client.mail(MAIL_FROM)
            for offset in (0, 1):
                await client.rcpt(addresses[(2 * index + offset) % len(addresses)])
            await client.quit()

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(sessions)))
    return time.perf_counter() - began


async def measure(knobs: Knobs) -> dict[str, Any]:
    """Generate the world, serve it, resolve everyone the vault lacks, then measure throughput against the raw
    ceiling on the same servers."""
    world = generate(knobs.seed, knobs.companies, knobs.people)
    limits = ProviderLimits(concurrency=1, gap_seconds=knobs.gap_seconds, budget=100_000, max_wait_seconds=1.0)
    limiter = RecordingLimiter(InProcessLimiter(limits))
    async with running_mail_world(layout=layout(world, knobs.greylist_wait)) as mail:
        engine = _engine(mail, world, knobs, limiter)
        targets = _interleaved(world, (p for p in world.people if not p.in_vault))
        began = time.perf_counter()
        verdicts = await _resolve_all(engine, targets, knobs.concurrency)
        main_seconds = time.perf_counter() - began
        main_events = len(mail.recorder.events)
        results = {
            "world": _world_summary(world, knobs),
            "main_run_seconds": main_seconds,
            **accuracy_metrics(world, verdicts),
            **rcpt_metrics(world, verdicts, mail.recorder, main_events),
            "politeness_limits": {"concurrency": limits.concurrency, "gap_seconds": limits.gap_seconds},
            "politeness_observed": observed_politeness(mail.recorder, main_events),
            "politeness_prober_side": dict(
                zip(("max_concurrency", "min_gap_seconds"), worst_spacing(limiter.spans.values()), strict=True)
            ),
            "no_mail_connections": no_mail_rcpts(world, mail.recorder),
        }
        results["deferrals"] = dict(engine.deferrals)
        results["throughput"] = await _throughput(world, knobs, mail, engine, limiter, verdicts)
        results["data_commands"] = mail.data_commands
    return results


def _world_summary(world: World, knobs: Knobs) -> dict[str, Any]:
    return {
        "seed": world.seed,
        "companies": len(world.companies),
        "people": len(world.people),
        "in_vault": sum(p.in_vault for p in world.people),
        "behaviours": dict(Counter(c.behaviour for c in world.companies)),
        "address_kinds": dict(Counter(p.kind for p in world.people)),
        "greylist_wait_seconds": knobs.greylist_wait,
        "session_deadline_seconds": knobs.session_seconds,
    }


async def _throughput(
    world: World, knobs: Knobs, mail: MailWorld, engine: Engine, limiter: RecordingLimiter, verdicts: dict[int, Any]
) -> dict[str, Any]:
    """The raw ceiling and the engine re-resolving people it verified at normal domains (warm DNS and catch-all
    caches; politeness not binding: one session per key at a time, no gap, many keys), at the same concurrency on
    the same servers, in alternating rounds so that a change in the machine's load hits both alike."""
    normal = {c.index for c in world.companies if c.behaviour == "normal"}
    verified = [p for p in world.people if p.company in normal and p.id in verdicts and verdicts[p.id][0].delivered]
    chosen = verified[: knobs.throughput_people]
    addresses = [p.address for p in world.people if p.company in normal]
    limiter.inner.limits = ProviderLimits(concurrency=1, gap_seconds=0.0, budget=100_000, max_wait_seconds=1.0)
    raw_seconds = engine_seconds = 0.0
    raw_sessions = engine_sessions = rcpts = 0
    for round_ in range(THROUGHPUT_ROUNDS):
        batch = chosen[round_::THROUGHPUT_ROUNDS]
        raw_seconds += await raw_ceiling(mail.smtp_port, addresses, len(batch), knobs.concurrency)
        raw_sessions += len(batch)
        connections, events = len(mail.recorder.connections), len(mail.recorder.events)
        began = time.perf_counter()
        await _resolve_all(engine, _interleaved(world, batch), knobs.concurrency)
        engine_seconds += time.perf_counter() - began
        engine_sessions += len(mail.recorder.connections) - connections
        rcpts += sum(1 for e in mail.recorder.events[events:] if e.command == "RCPT")
    raw_rate, engine_rate = raw_sessions / raw_seconds, engine_sessions / engine_seconds
    return {
        "people": len(chosen),
        "rounds": THROUGHPUT_ROUNDS,
        "raw_sessions_per_second": raw_rate,
        "engine_sessions_per_second": engine_rate,
        "engine_people_per_second": len(chosen) / engine_seconds,
        "engine_rcpt_per_session": share(rcpts, engine_sessions),
        "ratio": engine_rate / raw_rate,
    }


def _row(name: str, value: Any, goal: str = "", met: bool | None = None) -> str:
    shown = f"{value:.4f}" if isinstance(value, float) else str(value)
    verdict = "" if met is None else ("met" if met else "MISSED")
    return f"{name:<44} {shown:>14}  {goal:<12} {verdict}"


def table(results: dict[str, Any]) -> list[str]:
    """The printed summary: every figure with its goal and whether it was met."""
    r, t, seen, prober = (
        results,
        results["throughput"],
        results["politeness_observed"],
        results["politeness_prober_side"],
    )
    limits = r["politeness_limits"]
    rich, poor = r["rcpt_per_resolved_rich"], r["rcpt_per_resolved_poor"]

    def at_least(value: float | None, goal: float) -> bool | None:
        return None if value is None else value >= goal

    return [
        _row("people to resolve (not in the vault)", r["targets"]),
        _row("delivered valid", r["delivered_valid"]),
        _row("precision of delivered valid", r["valid_precision"], ">= 0.995", at_least(r["valid_precision"], 0.995)),
        _row("recall, derivable (normal + greylisting)", r["recall"], ">= 0.95", at_least(r["recall"], 0.95)),
        _row("calibration ECE (all scored verdicts)", r["calibration_all_scored"]["ece"], "<= 0.08",
             None if r["calibration_all_scored"]["ece"] is None else r["calibration_all_scored"]["ece"] <= 0.08),
        _row("calibration ECE (delivered only)", r["calibration_delivered"]["ece"]),
        _row("delivered accept_all", r["delivered_accept_all"]),
        _row("precision of delivered accept_all", r["accept_all_precision"], ">= 0.65",
             at_least(r["accept_all_precision"], 0.65)),
        _row("mean score of delivered accept_all", r["accept_all_mean_score"]),
        _row("RCPT per resolved person (>= 3 known)", rich, "<= 1.5", None if rich is None else rich <= 1.5),
        _row("RCPT per resolved person (< 3 known)", poor, "<= 4", None if poor is None else poor <= 4),
        _row("items re-queued (greylisting, politeness)", r["requeued_items"]),
        _row("items still deferred at the end", r["still_deferred"], "0", r["still_deferred"] == 0),
        _row("raw loopback ceiling, sessions/s", t["raw_sessions_per_second"]),
        _row("engine, sessions/s (warm, not binding)", t["engine_sessions_per_second"]),
        _row("throughput ratio engine / raw", t["ratio"], ">= 0.5", at_least(t["ratio"], 0.5)),
        _row("max sessions at once per provider key", seen["max_concurrency"], f"<= {limits['concurrency']}",
             seen["max_concurrency"] <= limits["concurrency"]),
        _row("min gap between sessions per key, s", seen["min_gap_seconds"], f">= {limits['gap_seconds'] - 0.005:.3f}",
             seen["min_gap_seconds"] >= limits["gap_seconds"] - 0.005),
        _row("  the same, as the prober started them, s", prober["min_gap_seconds"],
             f">= {limits['gap_seconds'] - 0.005:.3f}", prober["min_gap_seconds"] >= limits["gap_seconds"] - 0.005),
        _row("RCPTs to no-mail domains", r["no_mail_connections"], "0", r["no_mail_connections"] == 0),
        _row("DATA commands", r["data_commands"], "0", r["data_commands"] == 0),
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run at the full size (or ``--quick``; ``BENCH_QUICK=1`` from ``python -m bench``), print the table, write
    the JSON (``--out`` elsewhere than bench/results/resolution.json)."""
    args = list(argv if argv is not None else ([] if os.environ.get("BENCH_QUICK") != "1" else ["--quick"]))
    knobs = QUICK if "--quick" in args else Knobs()
    if "--seed" in args:
        knobs = replace(knobs, seed=int(args[args.index("--seed") + 1]))
    out = Path(args[args.index("--out") + 1]) if "--out" in args else RESULTS / "resolution.json"
    results = asyncio.run(measure(knobs))
    report(results, out)
    return results


def report(results: dict[str, Any], out: Path) -> None:
    """Print the table and write the JSON."""
    print(f"world: {results['world']}")
    for line in table(results):
        print(line)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
