"""The sync benchmark at a small size: every target syncs, re-syncs unchanged, and the calls are counted on the wire
(not a timed test: only that each figure exists and matches the batches the targets must make)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench import sync


def test_quick_run_measures_every_target_and_writes_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sync, "RESULTS", tmp_path)

    sync.main(["--quick"])

    results = json.loads((tmp_path / "sync.json").read_text())
    assert results["contacts"] == sync.QUICK_CONTACTS == 300
    assert set(results["targets"]) == set(sync.SPECS) >= {"csv", "jsonl", "webhook", "hubspot"}
    for name, row in results["targets"].items():
        first, again = row["first_sync"], row["unchanged_resync"]
        assert first["counts"]["create"] == 300, name
        assert again["counts"]["skip"] == 300, name
        assert first["contacts_per_s"] > 0, name
        assert again["contacts_per_s"] > 0, name
    targets = results["targets"]
    # HubSpot: one batch/read and one batch/create per 100; the re-sync only reads.
    assert (targets["hubspot"]["first_sync"]["calls"], targets["hubspot"]["unchanged_resync"]["calls"]) == (6, 3)
    assert targets["hubspot"]["first_sync"]["calls_per_1000"] == 20.0
    # Webhook: one signed POST per 100 (every one verified by the receiver); nothing to send again.
    assert (targets["webhook"]["first_sync"]["calls"], targets["webhook"]["unchanged_resync"]["calls"]) == (3, 0)
    # Files: one rewrite per batch of 500; none when nothing changed.
    assert (targets["csv"]["first_sync"]["calls"], targets["csv"]["unchanged_resync"]["calls"]) == (1, 0)
    assert targets["csv"]["first_sync"]["calls_kind"] == "file rewrites"
    table = capsys.readouterr().out
    assert "| hubspot | 100 |" in table
    assert "| csv | 500 |" in table


def test_unknown_target_is_a_usage_error_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        sync.main(["--quick", "--targets", "csv,salesforce"])
    assert exit_info.value.code == 2
    assert "--targets: unknown target(s) salesforce" in capsys.readouterr().err


def test_the_bench_runs_without_pytest_installed() -> None:
    # bench/ imports the HubSpot contract fake from tests/; neither may need pytest.
    script = (
        "import sys; sys.modules['pytest'] = None\n"
        "from bench import sync\n"
        "result = sync.run(5, ['hubspot', 'webhook'], None)\n"
        "assert result['targets']['hubspot']['unchanged_resync']['counts']['skip'] == 5\n"
    )
    root = Path(sync.__file__).parent.parent
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
