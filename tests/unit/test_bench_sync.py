"""The sync benchmark at a small size: every target syncs, re-syncs unchanged, and the calls are counted on the wire
(not a timed test: only that each figure exists and matches the batches the targets must make)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench import sync

FAST = ("csv", "jsonl", "webhook", "hubspot", "salesforce", "pipedrive")  # every target but CardDAV (below)


def test_every_sync_target_has_a_spec() -> None:
    assert list(sync.SPECS) == [*FAST, "carddav"]


def test_quick_run_measures_the_targets_and_writes_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sync, "RESULTS", tmp_path)

    sync.main(["--quick", "--targets", ",".join(FAST)])

    results = json.loads((tmp_path / "sync.json").read_text())
    assert results["contacts"] == sync.QUICK_CONTACTS == 300
    assert list(results["targets"]) == list(FAST)
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
    # Salesforce: a token, then per batch of 200 the Lead query (split in two at 200 contacts, to keep the URL short)
    # and the Contact query (a Lead for a known Contact is a conflict), and one sObject Collections POST.
    salesforce_calls = targets["salesforce"]["first_sync"]["calls_by_kind"]
    assert salesforce_calls == {
        "GET /services/data/v62.0/query": 5,
        "POST /services/data/v62.0/composite/sobjects": 2,
        "POST /services/oauth2/token": 1,
    }
    assert targets["salesforce"]["unchanged_resync"]["calls_by_kind"] == {
        "GET /services/data/v62.0/query": 5,
        "POST /services/oauth2/token": 1,
    }
    # Pipedrive: no batch writes, so one POST per person; a new person is searched by email, then by its contactvault
    # id; the re-sync reads the persons it created by id, 100 per GET, and searches nothing (the fake pages the
    # person fields 3 at a time: 5 calls per run).
    assert targets["pipedrive"]["first_sync"]["calls_by_kind"] == {
        "GET /api/v2/personFields": 5,
        "GET /api/v2/persons/search": 600,
        "POST /api/v2/persons": 300,
    }
    assert targets["pipedrive"]["unchanged_resync"]["calls_by_kind"] == {
        "GET /api/v2/personFields": 5,
        "GET /api/v2/persons": 3,
    }
    table = capsys.readouterr().out
    assert "| hubspot | 100 |" in table
    assert "| salesforce | 200 |" in table
    assert "| pipedrive | 100 |" in table
    assert "| csv | 500 |" in table


def test_carddav_against_real_radicale_puts_one_card_per_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # 101 contacts: two batches of the 100-card limit, to see the per-batch REPORTs (kept small: Radicale is slow).
    monkeypatch.setattr(sync, "RESULTS", tmp_path)

    sync.main(["--contacts", "101", "--targets", "carddav"])

    row = json.loads((tmp_path / "sync.json").read_text())["targets"]["carddav"]
    first, again = row["first_sync"], row["unchanged_resync"]
    assert (first["counts"]["create"], again["counts"]["skip"]) == (101, 101)
    # Per batch one addressbook-multiget (the people's own cards) and one addressbook-query (cards with their
    # emails); then one PUT (If-None-Match: *) per new card. Unchanged: only the multigets.
    assert first["calls_by_kind"] == {"PUT /alice/contacts/contactvault-{id}.vcf": 101, "REPORT /alice/contacts/": 4}
    assert again["calls_by_kind"] == {"REPORT /alice/contacts/": 2}
    assert first["contacts_per_s"] > 0
    assert again["contacts_per_s"] > 0
    assert "| carddav | 100 |" in capsys.readouterr().out


def test_unknown_target_is_a_usage_error_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        sync.main(["--quick", "--targets", "csv,zoho"])
    assert exit_info.value.code == 2
    assert "--targets: unknown target(s) zoho" in capsys.readouterr().err


def test_the_bench_runs_without_pytest_installed() -> None:
    # bench/ imports the contract fakes and the Radicale harness from tests/; none of them may need pytest.
    script = (
        "import sys; sys.modules['pytest'] = None\n"
        "from bench import sync\n"
        "names = ['hubspot', 'salesforce', 'pipedrive', 'carddav', 'webhook']\n"
        "result = sync.run(5, names, None)\n"
        "assert all(result['targets'][n]['unchanged_resync']['counts']['skip'] == 5 for n in names)\n"
    )
    root = Path(sync.__file__).parent.parent
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
