"""With PROMETHEUS_MULTIPROC_DIR set, every process writes its counters there and any process's exposition is
the sum of all of them (several `serve` processes, or a `worker`, on one host)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

COUNT = "from contactvault.server import metrics; metrics.credits_moved([('hold', 'email', {n})])"
SCRAPE = "import sys; from contactvault.server import metrics; sys.stdout.write(metrics.exposition().decode())"


def _python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_one_scrape_sums_the_counters_of_every_process(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    _python(COUNT.format(n=15), env)
    _python(COUNT.format(n=30), env)
    text = _python(SCRAPE, env)
    held = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "contactvault_credits_total" and s.labels == {"kind": "hold", "channel": "email"}
    ]
    assert held == [45]
