"""Fit the score's per-status evidence factors on one labelled world (issue 13 calibration).

Resolves the people a generated world's vault lacks (as ``bench.resolution`` does), notes for every judged verdict
its status, pattern posterior, identity factor and whether it was the person's true address, and fits per status
``evidence = a + b * p_pattern`` so that ``identity * evidence`` is the probability of being right (least squares
on the 0/1 labels). Fit on one seed and report ECE on another (``python -m bench.calibrate --seed 7``).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import resolution as res
from bench._metrics import calibration
from bench._vault import mail_settings, resolver, seeded_runtime
from bench._world import generate, layout
from contactvault.server.demo.mailworld import running_mail_world
from contactvault.server.domain.scoring import VerificationStatus, score
from contactvault.server.worker.mail.politeness import InProcessLimiter, ProviderLimits


async def collect(knobs: res.Knobs) -> list[tuple[str, float, float, float, bool]]:
    """(status, p_pattern, identity, support, right) for every judged verdict of the world of ``knobs.seed``, as
    the worker's pattern resolver reached it (delivered or not)."""
    world = generate(knobs.seed, knobs.companies, knobs.people)
    limits = ProviderLimits(concurrency=1, gap_seconds=knobs.gap_seconds, budget=100_000, max_wait_seconds=1.0)
    limiter = res.RecordingLimiter(InProcessLimiter(limits))
    async with running_mail_world(layout=layout(world, knobs.greylist_wait)) as mail:
        settings = mail_settings(mail.dns_servers, mail.smtp_port, knobs.session_seconds, knobs.max_candidates)
        with seeded_runtime(world, settings) as rt:
            observed = resolver(rt, limiter, random.Random(world.seed), knobs.greylist_wait + 0.1)
            engine = res.Engine(observed, rt.cipher, knobs.greylist_wait + 0.1)
            targets = res._interleaved(world, (p for p in world.people if not p.in_vault))
            await res._resolve_all(engine, targets, knobs.concurrency)
    people = {p.id: p for p in world.people}
    rows = []
    for owner, (verdict, _points) in observed.judged.items():
        c = verdict.candidate
        rows.append((verdict.status.value, c.probability, c.identity, c.support, c.address == people[owner].address))
    return rows


def fit(rows: Sequence[tuple[str, float, float, float, bool]]) -> dict[str, Any]:
    """Per status, least squares of right ~ identity * (a + b * p)."""
    by: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for status, p, identity, _support, right in rows:
        by[status].append((identity, identity * p, float(right)))
    out: dict[str, Any] = {}
    for status, items in by.items():
        s11 = sum(x * x for x, _, _ in items)
        s12 = sum(x * z for x, z, _ in items)
        s22 = sum(z * z for _, z, _ in items)
        t1 = sum(x * y for x, _, y in items)
        t2 = sum(z * y for _, z, y in items)
        det = s11 * s22 - s12 * s12
        a, b = ((s22 * t1 - s12 * t2) / det, (s11 * t2 - s12 * t1) / det) if det > 1e-9 else (t1 / s11, 0.0)
        out[status] = {"n": len(items), "a": a, "b": b, "accuracy": sum(y for *_, y in items) / len(items)}
    return out


def main(argv: Sequence[str]) -> None:
    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 7
    size = (300, 4000) if "--quick" not in argv else (12, 80)
    knobs = res.Knobs(companies=size[0], people=size[1], seed=seed)
    rows = asyncio.run(collect(knobs))
    points = [(score(VerificationStatus(st), p_pattern=p, p_identity=i, support=s), r) for st, p, i, s, r in rows]
    summary = {"seed": seed, "rows": len(rows), "fit": fit(rows), "ece_of_current_scores": calibration(points)}
    print(json.dumps(summary, indent=2))
    if "--rows" in argv:
        Path(argv[argv.index("--rows") + 1]).write_text(json.dumps(rows))
    bins: dict[tuple[str, int], list[bool]] = defaultdict(list)
    for status, p, identity, _s, right in rows:
        bins[(status, int(10 * p * identity))].append(right)
    for key in sorted(bins):
        print(key, len(bins[key]), round(sum(bins[key]) / len(bins[key]), 3))


if __name__ == "__main__":
    main(sys.argv[1:])
