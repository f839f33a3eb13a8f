"""The resolution benchmark at a tiny size: it runs through the real loopback world and produces every figure
(not a timed test: only that each metric exists, is sane, and came from traffic the servers recorded)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import resolution
from bench._world import generate

from contactvault.server.config import Settings

# A generous session deadline: a loaded machine must not turn normal sessions into deadline verdicts.
TINY = replace(resolution.QUICK, companies=8, people=48, throughput_people=12, seed=5, session_seconds=2.0)
DEADLINE_SECONDS = 30.0


def test_the_bench_runs_at_a_tiny_size_and_reports_every_metric(tmp_path: Path) -> None:
    world = generate(TINY.seed, TINY.companies, TINY.people)
    behaviours = {c.behaviour for c in world.companies}
    assert {"normal", "catch_all", "greylist"} <= behaviours  # the seed covers the behaviours the metrics need

    async def run() -> dict[str, Any]:
        async with asyncio.timeout(DEADLINE_SECONDS):
            return await resolution.measure(TINY)

    results = asyncio.run(run())

    assert results["targets"] == sum(not p.in_vault for p in world.people)
    assert results["delivered_valid"] > 0
    assert results["valid_precision"] is not None
    assert results["recall"] is not None
    assert 0 < results["recall"] <= 1
    assert results["calibration_all_scored"]["ece"] is not None
    assert results["accept_all_precision"] is not None or results["delivered_accept_all"] == 0
    rcpts = results["rcpts"]
    assert rcpts["rich"] + rcpts["poor"] > 0  # the servers saw the probes the figures are computed from
    split = results["rcpt_per_resolved_split"]  # rich/poor x behaviour adds up to the rich and poor figures
    for richness in ("rich", "poor"):
        groups = [g for name, g in split.items() if name.startswith(f"{richness}/")]
        assert sum(g["rcpts"] for g in groups) == rcpts.get(richness, 0)
        assert sum(g["resolved"] for g in groups) == results["resolved"].get(richness, 0)
    assert results["deferrals"]["greylisting"] > 0  # greylisted items were re-queued...
    assert results["requeued_items"] > 0
    assert results["still_deferred"] == 0  # ...and came back after the delay to a verdict
    observed = results["politeness_observed"]
    assert observed["keys"] > 1
    assert observed["max_concurrency"] == 1
    by_kernel = results["politeness_observed_by_kernel"]  # the servers ran in a process of their own
    assert by_kernel["keys"] == observed["keys"]
    assert by_kernel["min_gap_seconds"] > 0
    assert results["server_noting_lag"]["median_ms"] is not None
    assert results["server_noting_lag"]["median_ms"] >= 0
    assert results["politeness_prober_side"]["max_concurrency"] == 1
    throughput = results["throughput"]
    assert throughput["people"] > 0
    assert throughput["raw_sessions_per_second"] > 0
    assert min(throughput["cpu_ms_per_session_raw"].values()) > 0  # both processes' CPU clocks moved
    assert 1 <= throughput["rounds"] <= resolution.THROUGHPUT_ROUNDS
    for side in ("batched", "per_person"):  # the worker's path, and one resolve per person beside it
        engine = throughput[side]
        assert engine["sessions_per_second"] > 0
        assert len(engine["round_ratios"]) == throughput["rounds"]
        assert engine["ratio_range"][0] <= engine["ratio"] <= engine["ratio_range"][1]
        assert engine["cpu_ms_per_session"] > 0
        assert engine["servers_cpu_ms_per_session"] > 0
        assert engine["cpu_ratio"] > 0
        assert engine["found"] > 0
    # The batched side took the worker's path: each round's people handed to the chain in one claim (the worker
    # takes every due item up to its batch size), one more claim only for items re-queued after a deferral.
    claims = throughput["batched_counts"]
    assert throughput["batch_size"] == Settings.model_fields["worker_batch_size"].default
    assert claims["largest_claim"] == -(-throughput["people"] // resolution.THROUGHPUT_ROUNDS)  # the largest round
    assert throughput["rounds"] <= claims["claims"] <= throughput["rounds"] + claims.get("deferred", 0)
    assert claims["settled"] + claims.get("given_up", 0) == throughput["people"]
    assert results["data_commands"] == 0
    assert results["no_mail_connections"] == 0
    out = tmp_path / "resolution.json"
    resolution.report(results, out)
    assert json.loads(out.read_text())["world"]["people"] == TINY.people
