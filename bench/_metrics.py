"""The resolution benchmark's figures, computed from the world's labels and the servers' recorders."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from bench._world import World
from contactvault.server.demo.mailworld import Recorder
from contactvault.server.domain.scoring import VerificationStatus
from contactvault.server.worker.mail.politeness import provider_key


def worst_spacing(spans_by_key: Iterable[list[list[float]]]) -> tuple[int, float]:
    """The most sessions of one key at once, and the smallest gap between two of its sessions' starts."""
    max_concurrent, min_gap = 0, float("inf")
    for spans in spans_by_key:
        ordered = sorted(spans)
        for i, (start, _end) in enumerate(ordered):
            max_concurrent = max(max_concurrent, 1 + sum(1 for _s, e in ordered[:i] if e > start))
            if i:
                min_gap = min(min_gap, start - ordered[i - 1][0])
    return max_concurrent, min_gap


def observed_politeness(recorder: Recorder, events_until: int, *, by_kernel: bool = False) -> dict[str, Any]:
    """Per provider key, from what the servers saw: the most sessions at once and the smallest gap between two
    sessions' starts (sessions that reached RCPT, so the key is known from the recipient's domain). A session
    starts when the server process noted the connection, or (``by_kernel``) when the connection arrived by the
    kernel's account (``demo/arrival.py``: a busy server process notes connections late, the kernel does not).
    Sessions end when the server process noted their last command, so ``by_kernel`` gives the gap only: its
    starts and those ends are not on the same footing."""
    stamps = recorder.arrived if by_kernel else recorder.opened
    spans: dict[int, list[float]] = {}
    keys: dict[int, str] = {}
    for event in recorder.events[:events_until]:
        span = spans.setdefault(event.session, [stamps.get(event.session, event.at), event.at])
        span[1] = max(span[1], event.at)
        if event.command == "RCPT":
            keys[event.session] = provider_key("mx." + event.argument.strip("<>").partition("@")[2])
    by_key: dict[str, list[list[float]]] = defaultdict(list)
    for session, key in keys.items():
        by_key[key].append(spans[session])
    max_concurrent, min_gap = worst_spacing(by_key.values())
    if by_kernel:
        return {"keys": len(by_key), "min_gap_seconds": min_gap}
    return {"keys": len(by_key), "max_concurrency": max_concurrent, "min_gap_seconds": min_gap}


def noting_lag(recorder: Recorder) -> dict[str, float | None]:
    """How long after a connection arrived the server process noted it (milliseconds): median, 99th, largest."""
    lags = sorted(1000 * (recorder.opened[n] - recorder.arrived[n]) for n in recorder.opened if n in recorder.arrived)
    if not lags:
        return {"median_ms": None, "p99_ms": None, "max_ms": None}
    return {"median_ms": lags[len(lags) // 2], "p99_ms": lags[int(0.99 * (len(lags) - 1))], "max_ms": lags[-1]}


def share(hits: int, total: int) -> float | None:
    """hits / total, or None when there is nothing to count."""
    return hits / total if total else None


def calibration(pairs: Iterable[tuple[int, bool]]) -> dict[str, Any]:
    """Expected calibration error over score deciles: sum over deciles of (share of items) x |accuracy - mean
    score/100|; with the deciles themselves."""
    bins: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    for points, right in pairs:
        bins[min(points // 10, 9)].append((points, right))
    total = sum(len(b) for b in bins.values())
    deciles = []
    ece = 0.0
    for decile in sorted(bins):
        items = bins[decile]
        accuracy = sum(r for _, r in items) / len(items)
        confidence = sum(p for p, _ in items) / len(items) / 100
        ece += len(items) / total * abs(accuracy - confidence)
        deciles.append({"decile": decile, "n": len(items), "accuracy": accuracy, "mean_score": confidence * 100})
    return {"ece": ece if total else None, "n": total, "deciles": deciles}


def accuracy_metrics(world: World, verdicts: dict[int, Any]) -> dict[str, Any]:
    """Precision, recall and calibration against the world's labels."""
    people = {p.id: p for p in world.people}
    behaviour = {c.index: c.behaviour for c in world.companies}
    judged = [(people[i], v) for i, (v, _) in verdicts.items()]
    valid = [(p, v) for p, v in judged if v.delivered and v.status is VerificationStatus.VALID]
    accept_all = [(p, v) for p, v in judged if v.delivered and v.status is VerificationStatus.ACCEPT_ALL]
    derivable = [(p, v) for p, v in judged if p.derivable and behaviour[p.company] in ("normal", "greylist")]
    found = [(p, v) for p, v in derivable if v.delivered and v.status is VerificationStatus.VALID]
    scored = [(v.score, v.address == p.address) for p, v in judged if v.status is not None]
    delivered = [(v.score, v.address == p.address) for p, v in judged if v.delivered]
    return {
        "targets": len(judged),
        "delivered_valid": len(valid),
        "valid_precision": share(sum(v.address == p.address for p, v in valid), len(valid)),
        "delivered_accept_all": len(accept_all),
        "accept_all_precision": share(sum(v.address == p.address for p, v in accept_all), len(accept_all)),
        "accept_all_mean_score": share(sum(v.score for _, v in accept_all), len(accept_all)),
        "derivable_normal_greylist": len(derivable),
        "recall": share(sum(v.address == p.address for p, v in found), len(derivable)),
        "calibration_all_scored": calibration(scored),
        "calibration_delivered": calibration(delivered),
        "requeued_items": sum(1 for _, passes in verdicts.values() if passes > 1),
        "still_deferred": sum(1 for v, _ in verdicts.values() if v.retry_after is not None),
        "reasons": dict(sorted(Counter(v.reason for v, _ in verdicts.values()).items())),
    }


def rcpt_metrics(world: World, verdicts: dict[int, Any], recorder: Recorder, events_until: int) -> dict[str, Any]:
    """RCPTs (catch-all probes and greylisted passes included) per resolved (delivered) person, domains with >= 3
    known addresses vs fewer, and by domain behaviour."""
    known: dict[int, int] = defaultdict(int)
    for person in world.people:
        known[person.company] += person.in_vault
    by_domain = {c.domain: _groups(known[c.index], c.behaviour) for c in world.companies}
    rcpts: dict[str, int] = defaultdict(int)
    for event in recorder.events[:events_until]:
        if event.command == "RCPT":
            for group in by_domain[event.argument.strip("<>").partition("@")[2]]:
                rcpts[group] += 1
    domain_of = {c.index: c.domain for c in world.companies}
    people = {p.id: p for p in world.people}
    resolved: dict[str, int] = defaultdict(int)
    for owner, (verdict, _) in verdicts.items():
        if verdict.delivered:
            for group in by_domain[domain_of[people[owner].company]]:
                resolved[group] += 1
    return {
        "rcpt_per_resolved_rich": share(rcpts["rich"], resolved["rich"]),
        "rcpt_per_resolved_poor": share(rcpts["poor"], resolved["poor"]),
        "rcpt_per_resolved_by_behaviour": {
            b: share(rcpts[b], resolved[b]) for b in sorted(rcpts) if "/" not in b and b not in ("rich", "poor")
        },
        # The rich/poor figures split by domain behaviour: where the RCPTs of each go, and whom they resolve.
        "rcpt_per_resolved_split": {
            g: {"rcpts": rcpts[g], "resolved": resolved[g], "per_resolved": share(rcpts[g], resolved[g])}
            for g in sorted(set(rcpts) | set(resolved))
            if "/" in g
        },
        "rcpts": dict(rcpts),
        "resolved": dict(resolved),
    }


def _groups(known: int, behaviour: str) -> tuple[str, ...]:
    """The RCPT groups a domain counts in: rich (>= 3 known addresses) or poor, its behaviour, and both together."""
    richness = "rich" if known >= 3 else "poor"
    return richness, behaviour, f"{richness}/{behaviour}"


def no_mail_rcpts(world: World, recorder: Recorder) -> int:
    """RCPTs for no-mail domains (their MX does not exist, so any would show as an RCPT somewhere)."""
    dead = {c.domain for c in world.companies if c.behaviour == "no_mail"}
    return sum(1 for e in recorder.events if e.command == "RCPT" and e.argument.strip("<>").partition("@")[2] in dead)
