"""Resolution benchmark (issue 13): find and verify the addresses of a generated, labelled mail world, in one run.

The world (bench/_world.py) is served on loopback by ``demo.mailworld`` (dnslib DNS, aiosmtpd MXs on 127.0.0.x) and
seeded into a temporary SQLite database (bench/_vault.py: companies with domains, people, the vault's addresses).
Every person the vault lacks is resolved by the worker's own ``PatternResolver`` through ``resolve(Lookup)``, as the
worker calls it: the vault's evidence -> ranked candidates -> DNS -> polite SMTP sessions -> verdict, score and the
delivery rule. A deferred item (greylisting, politeness) waits ``Resolution.retry_after`` without holding a slot and
comes back, as the worker re-queues it without using up an attempt.

Reports precision of delivered ``valid`` and ``accept_all``, recall on derivable addresses, the score's calibration
(ECE over deciles), RCPTs per resolved person, throughput as a ratio to the raw aiosmtplib <-> aiosmtpd ceiling
measured in the same run (two engine rows: the worker's path, claims of ``worker_batch_size`` through the resolver
chain's ``resolve_many``, and one ``resolve`` per person; see bench/_throughput.py), the politeness limits as
the servers observed them, and DATA commands (always 0).

Run: ``python -m bench resolution`` (``--quick`` for a small world, ``--seed N`` for another world). Writes
bench/results/resolution.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench._metrics import (
    accuracy_metrics,
    no_mail_rcpts,
    noting_lag,
    observed_politeness,
    rcpt_metrics,
    share,
    worst_spacing,
)
from bench._servers import ServedWorld, WorldSpec, served_world
from bench._throughput import Side, raw_ceiling, resolve_batched, timed
from bench._vault import ObservedResolver, mail_settings, personnel_id, resolver, seeded_runtime
from bench._world import World, generate
from contactvault.server.clock import SystemClock
from contactvault.server.crypto import Cipher
from contactvault.server.domain.resolution import Lookup, Outcome, Resolution
from contactvault.server.domain.scoring import VerificationStatus
from contactvault.server.runtime import Runtime
from contactvault.server.worker.mail.cache import TtlCache
from contactvault.server.worker.mail.politeness import InProcessLimiter, PolitenessDeferred, ProviderLimits
from contactvault.server.worker.pipeline import ResolverChain
from contactvault.server.worker.resolvers.vault import VaultResolver

ORDER = 60
RESULTS = Path(__file__).parent / "results"
THROUGHPUT_ROUNDS = 9  # short rounds, each side close in time to the other; odd, so the median is one round
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
    max_candidates: int = 3  # per session (the resolver ranks 5, or 9 without pattern evidence)
    throughput_people: int = 1000


QUICK = Knobs(companies=12, people=80, greylist_wait=0.3, session_seconds=0.3, throughput_people=40)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the engine concluded for one person: the address it judged (or None), its status and score, whether
    the resolver delivered it, its outcome; ``retry_after`` when the item was still deferred at the end."""

    address: str | None
    status: VerificationStatus | None
    score: int
    delivered: bool
    reason: str
    retry_after: float | None = None


@dataclass
class Engine:
    """The worker's pattern resolver on the seeded database, and what the bench counts around it."""

    resolver: ObservedResolver
    cipher: Cipher
    greylist_retry_after: float
    deferrals: Counter[str] = field(default_factory=Counter)
    batch_size: int = 1000  # the worker's claim size (``Settings.worker_batch_size``), for the batched rows


def _verdict(engine: Engine, item_id: int, answer: Resolution) -> Verdict:
    """The bench's view of one answer: the delivered value (opened with the cipher), or the verdict the delivery
    rule refused, as the observer noted it."""
    judged = engine.resolver.judged.get(item_id)
    if answer.outcome is Outcome.FOUND and answer.value_encrypted is not None:
        status = VerificationStatus(answer.verification_status or "unknown")
        address = engine.cipher.open(answer.value_encrypted)
        return Verdict(address, status, answer.verification_score or 0, True, f"found:{status.value}")
    if answer.outcome is Outcome.DEFERRED:
        return Verdict(None, None, 0, False, "deferred", answer.retry_after)
    if judged is not None and answer.outcome is Outcome.NOT_FOUND:
        verdict, points = judged
        return Verdict(verdict.candidate.address, verdict.status, points, False, f"refused:{verdict.status.value}")
    return Verdict(None, None, 0, False, answer.outcome.value)


async def _resolve_all(
    engine: Engine, targets: Sequence[tuple[int, str, str]], concurrency: int, *, grade: bool = True
) -> dict[int, Any]:
    """Resolve every (id, name, domain) through ``PatternResolver.resolve`` with ``concurrency`` slots; a deferred
    item gives its slot back while it waits (as the worker re-queues it with its lease released). Returns
    id -> (verdict, passes); deferrals and transient answers (retried too) are counted in ``engine.deferrals``.
    Without ``grade`` the delivered value is not opened (the throughput rounds time the engine, not the bench)."""
    slots = asyncio.Semaphore(concurrency)

    async def one(owner: int) -> tuple[Verdict, int]:
        passes = 0
        lookup = Lookup(owner, personnel_id(owner), "email")
        while True:
            passes += 1
            engine.resolver.judged.pop(owner, None)
            async with slots:
                answer = await engine.resolver.resolve(lookup)
            verdict = (
                _verdict(engine, owner, answer)
                if grade
                else Verdict(None, None, 0, answer.outcome is Outcome.FOUND, answer.outcome.value)
            )
            if answer.outcome is Outcome.DEFERRED:
                engine.deferrals["deferred"] += 1
            elif answer.outcome is Outcome.TRANSIENT:
                engine.deferrals["transient"] += 1
            else:
                return verdict, passes
            if passes > MAX_DEFERRALS:
                return replace(verdict, retry_after=answer.retry_after or engine.greylist_retry_after), passes
            await asyncio.sleep(answer.retry_after or engine.greylist_retry_after)

    done = await asyncio.gather(*(one(t[0]) for t in targets))
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
        self.refusals = 0  # sessions the limiter refused (the resolver defers those items for politeness)

    @contextlib.asynccontextmanager
    async def session(self, key: str) -> AsyncIterator[None]:
        """The inner limiter's session, timed (a refusal counted)."""
        entered = False
        try:
            async with self.inner.session(key):
                entered = True
                span = [time.monotonic(), float("inf")]
                self.spans[key].append(span)
                try:
                    yield
                finally:
                    span[1] = time.monotonic()
        except PolitenessDeferred:
            if not entered:
                self.refusals += 1
            raise

    async def block(self, key: str, seconds: float) -> None:
        """The inner limiter's block."""
        await self.inner.block(key, seconds)

    async def connected(self, key: str) -> None:
        """The inner limiter's, and the open session of ``key`` counts as started now (if later than granted)."""
        await self.inner.connected(key)
        now = time.monotonic()
        for span in reversed(self.spans[key]):
            if span[1] == float("inf"):
                span[0] = max(span[0], now)
                break


async def measure(knobs: Knobs) -> dict[str, Any]:
    """Generate the world, serve it, resolve everyone the vault lacks, then measure throughput against the raw
    ceiling on the same servers."""
    world = generate(knobs.seed, knobs.companies, knobs.people)
    limits = ProviderLimits(concurrency=1, gap_seconds=knobs.gap_seconds, budget=100_000, max_wait_seconds=1.0)
    limiter = RecordingLimiter(InProcessLimiter(limits))
    spec = WorldSpec(knobs.seed, knobs.companies, knobs.people, knobs.greylist_wait)
    async with served_world(spec) as mail:  # in a process of its own: see bench/_servers.py
        settings = mail_settings(mail.dns_servers, mail.smtp_port, knobs.session_seconds, knobs.max_candidates)
        with seeded_runtime(world, settings) as rt:
            return await _measure(knobs, world, mail, rt, limiter, limits)


async def _measure(
    knobs: Knobs, world: World, mail: ServedWorld, rt: Runtime, limiter: RecordingLimiter, limits: ProviderLimits
) -> dict[str, Any]:
    """The run on the served world and the seeded database."""
    engine = Engine(
        resolver(rt, limiter, random.Random(world.seed), knobs.greylist_wait + 0.1),
        rt.cipher,
        knobs.greylist_wait + 0.1,
        batch_size=rt.settings.worker_batch_size,
    )
    targets = _interleaved(world, (p for p in world.people if not p.in_vault))
    began = time.perf_counter()
    verdicts = await _resolve_all(engine, targets, knobs.concurrency)
    main_seconds = time.perf_counter() - began
    recorder = await mail.recorder()
    main_events = len(recorder.events)
    results = {
        "world": _world_summary(world, knobs),
        "main_run_seconds": main_seconds,
        **accuracy_metrics(world, verdicts),
        **rcpt_metrics(world, verdicts, recorder, main_events),
        "politeness_limits": {"concurrency": limits.concurrency, "gap_seconds": limits.gap_seconds},
        "politeness_observed": observed_politeness(recorder, main_events),
        "politeness_observed_by_kernel": observed_politeness(recorder, main_events, by_kernel=True),
        "server_noting_lag": noting_lag(recorder),
        "politeness_prober_side": dict(
            zip(("max_concurrency", "min_gap_seconds"), worst_spacing(limiter.spans.values()), strict=True)
        ),
        "no_mail_connections": no_mail_rcpts(world, recorder),
    }
    deferred = engine.deferrals.pop("deferred", 0)
    # The resolver defers for politeness exactly when the limiter refused a session; the rest was greylisting.
    results["deferrals"] = {
        "politeness": limiter.refusals,
        "greylisting": deferred - limiter.refusals,
        **engine.deferrals,
    }
    results["throughput"] = await _throughput(world, knobs, mail, engine, limiter, verdicts)
    results["data_commands"] = len((await mail.recorder()).commands(command="DATA"))
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
    world: World, knobs: Knobs, mail: ServedWorld, engine: Engine, limiter: RecordingLimiter, verdicts: dict[int, Any]
) -> dict[str, Any]:
    """The raw ceiling and the engine re-resolving people it verified at normal domains (warm DNS and catch-all
    caches; politeness not binding: one session per key at a time, no gap, many keys), at the same concurrency on
    the same servers (in their own process), in rounds that rotate which side goes first. The engine runs twice a
    round: ``batched``, the worker's path (``resolve_batched``: claims of up to ``worker_batch_size`` through the
    resolver chain, deferrals re-queued), and ``per_person`` (``resolve(Lookup)`` per person, its own slot). Each
    ratio reported is the median of the rounds' ratios, so one loaded moment on the shared machine moves one round,
    not the figure; beside it, the same comparison in CPU time (both processes' clocks), which other work on the
    machine does not move: sessions per CPU-second of the engine over those of the raw client."""
    normal = {c.index for c in world.companies if c.behaviour == "normal"}
    verified = [p for p in world.people if p.company in normal and p.id in verdicts and verdicts[p.id][0].delivered]
    chosen = verified[: knobs.throughput_people]
    addresses = [p.address for p in world.people if p.company in normal]
    limiter.inner.limits = ProviderLimits(concurrency=1, gap_seconds=0.0, budget=100_000, max_wait_seconds=1.0)
    chain = ResolverChain(engine.resolver.db, engine.cipher, [VaultResolver(engine.resolver.db), engine.resolver],
                          knobs.concurrency)  # fmt: skip
    sides = ("raw", "batched", "per_person")
    totals = {side: Side() for side in sides}
    ratios: dict[str, list[float]] = {"batched": [], "per_person": []}
    counts: Counter[str] = Counter()
    found = Counter[str]()
    for round_ in range(THROUGHPUT_ROUNDS):
        if not (targets := _interleaved(world, chosen[round_::THROUGHPUT_ROUNDS])):
            continue
        took: dict[str, Side] = {}
        for side in sides[round_ % 3 :] + sides[: round_ % 3]:
            took[side], counted = await _run_side(side, engine, chain, mail, knobs.concurrency, targets, addresses)
            counts["largest_claim"] = max(counts["largest_claim"], counted.pop("largest_claim", 0))
            found[side] += counted.pop("found", 0)
            if side == "batched":
                counts.update(counted)
        raw = took["raw"]
        for side in ratios:
            ratios[side].append((took[side].sessions / took[side].seconds) / (raw.sessions / raw.seconds))
        for side in sides:
            totals[side].add(took[side])
    result: dict[str, Any] = {
        "people": len(chosen),
        "rounds": len(ratios["batched"]),
        "raw_sessions_per_second": totals["raw"].sessions / totals["raw"].seconds,
        "cpu_ms_per_session_raw": {
            "raw_client": 1000 * totals["raw"].cpu / totals["raw"].sessions,
            "servers_for_raw": 1000 * totals["raw"].server_cpu / totals["raw"].sessions,
        },
        "batch_size": engine.batch_size,
        "concurrency": knobs.concurrency,
        "batched_counts": dict(counts),
    }
    for side in ratios:
        result[side] = _engine_figures(totals[side], totals["raw"], sorted(ratios[side]), len(chosen), found[side])
    return result


async def _run_side(
    side: str,
    engine: Engine,
    chain: ResolverChain,
    mail: ServedWorld,
    concurrency: int,
    targets: list[tuple[int, str, str]],
    addresses: list[str],
) -> tuple[Side, Counter[str]]:
    """One side of one throughput round, timed, and what it counted (``found``; the claims of ``batched``)."""
    # Forget the per-address verdicts, or the resolver would answer these people without a session.
    engine.resolver.verdicts = TtlCache(SystemClock())
    counted: Counter[str] = Counter()

    async def batched() -> None:
        lookups = [Lookup(t[0], personnel_id(t[0]), "email") for t in targets]
        retry = engine.greylist_retry_after
        counted.update(await resolve_batched(chain, lookups, engine.batch_size, retry, MAX_DEFERRALS))

    async def per_person() -> None:
        answers = await _resolve_all(engine, targets, concurrency, grade=False)
        counted["found"] += sum(verdict.delivered for verdict, _ in answers.values())

    if side == "raw":
        return await timed(
            mail, functools.partial(raw_ceiling, mail.smtp_port, addresses, len(targets), concurrency)
        ), counted
    return await timed(mail, batched if side == "batched" else per_person), counted


def _engine_figures(eng: Side, raw: Side, ratios: list[float], people: int, found: int) -> dict[str, Any]:
    """One engine row of the throughput comparison."""
    return {
        "round_ratios": ratios,
        "ratio": statistics.median(ratios),
        "ratio_range": [ratios[0], ratios[-1]],
        "sessions_per_second": eng.sessions / eng.seconds,
        "people_per_second": people / eng.seconds,
        "found": found,
        "rcpt_per_session": share(eng.rcpts, eng.sessions),
        "cpu_ms_per_session": 1000 * eng.cpu / eng.sessions,
        "servers_cpu_ms_per_session": 1000 * eng.server_cpu / eng.sessions,
        "cpu_ratio": (eng.sessions / eng.cpu) / (raw.sessions / raw.cpu),
    }


def _row(name: str, value: Any, goal: str = "", met: bool | None = None) -> str:
    shown = f"{value:.4f}" if isinstance(value, float) else str(value)
    verdict = "" if met is None else ("met" if met else "MISSED")
    return f"{name:<44} {shown:>14}  {goal:<12} {verdict}"


def table(results: dict[str, Any]) -> list[str]:
    """The printed summary: every figure with its goal and whether it was met."""
    r, t, seen, kernel, prober = (
        results,
        results["throughput"],
        results["politeness_observed"],
        results["politeness_observed_by_kernel"],
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
        *(
            _row(f"  {group}: RCPTs / resolved", f"{g['rcpts']} / {g['resolved']}")
            for group, g in r["rcpt_per_resolved_split"].items()
        ),
        _row("items re-queued (greylisting, politeness)", r["requeued_items"]),
        _row("items still deferred at the end", r["still_deferred"], "0", r["still_deferred"] == 0),
        _row("raw loopback ceiling, sessions/s", t["raw_sessions_per_second"]),
        *(
            line
            for side, label in (("batched", "batches (worker)"), ("per_person", "per person"))
            for line in (
                _row(f"engine, {label}, sessions/s", t[side]["sessions_per_second"]),
                _row(f"throughput ratio, {label} / raw", t[side]["ratio"], ">= 0.5", at_least(t[side]["ratio"], 0.5)),
                _row("  rounds' ratios, lowest and highest", " - ".join(f"{x:.2f}" for x in t[side]["ratio_range"])),
                _row("  the same in CPU time (both processes)", t[side]["cpu_ratio"]),
                _row("  CPU ms per session: engine / raw client",
                     f"{t[side]['cpu_ms_per_session']:.2f} / {t['cpu_ms_per_session_raw']['raw_client']:.2f}"),
            )
        ),
        _row("max sessions at once per provider key", seen["max_concurrency"], f"<= {limits['concurrency']}",
             seen["max_concurrency"] <= limits["concurrency"]),
        _row("min gap between sessions per key, s", seen["min_gap_seconds"], f">= {limits['gap_seconds'] - 0.005:.3f}",
             seen["min_gap_seconds"] >= limits["gap_seconds"] - 0.005),
        _row("  the same, as the connections arrived, s", kernel["min_gap_seconds"],
             f">= {limits['gap_seconds'] - 0.005:.3f}", kernel["min_gap_seconds"] >= limits["gap_seconds"] - 0.005),
        _row("  servers' lag noting a connection, max ms", r["server_noting_lag"]["max_ms"]),
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
