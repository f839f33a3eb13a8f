"""``contactvault export``: delivered contacts from the state file, each exactly once, as CSV or JSON Lines."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, update

from contactvault.cli.client.export import ExportFormat, render
from contactvault.server.db.tables import contact_points
from tests.factories import email_of, phone_of

from .conftest import CLI, LiveServer

COLUMNS = [
    "personnel_id",
    "full_name",
    "title",
    "company_name",
    "email",
    "source",
    "verification_status",
    "verification_score",
    "unlocked_at",
    "event_id",
]


@pytest.fixture
def unlocked(connected: CLI) -> CLI:
    """Emails of 1, 2, 3 and 5 (10 fails), over two runs that overlap (2 is asked for twice), plus a phone."""
    connected.json("unlock", "--event", "100", "--ids", "1,2,10", "--yes", code=4)
    connected.json("unlock", "--event", "100", "--ids", "2,3,5", "--yes")
    connected.json("unlock", "--event", "200", "--ids", "3,6", "--phone", "--yes")
    return connected


def test_csv_to_stdout_has_each_delivered_contact_once(unlocked: CLI) -> None:
    result = unlocked("export")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == COLUMNS
    assert [(r["personnel_id"], r["email"]) for r in rows] == [(str(i), email_of(i)) for i in (1, 2, 3, 5)]
    assert rows[0]["full_name"] == "Person 1 Example"
    assert rows[0]["company_name"] == "Acme Widgets GmbH"
    assert (rows[0]["verification_status"], rows[0]["verification_score"]) == ("valid", "95")
    assert rows[0]["event_id"] == "100"
    assert rows[0]["unlocked_at"]


def test_jsonl_to_a_private_file_with_a_json_summary(unlocked: CLI, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    summary = unlocked.json("export", "--format", "jsonl", "--output", str(target))
    assert summary == {"path": str(target), "format": "jsonl", "channel": "email", "count": 4}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["personnel_id"] for line in lines] == ["1", "2", "3", "5"]
    assert lines[0]["verification_score"] == 95


def test_phone_export_and_event_filter(unlocked: CLI) -> None:
    phones = list(csv.DictReader(io.StringIO(unlocked("export", "--phone").stdout)))
    assert [(r["personnel_id"], r["phone"], r["event_id"]) for r in phones] == [
        ("3", phone_of(3), "200"),
        ("6", phone_of(6), "200"),
    ]
    assert unlocked("export", "--event", "200").stdout.splitlines() == [",".join(COLUMNS)]


def test_export_of_one_run(unlocked: CLI) -> None:
    runs = unlocked.json("tasks", "list")["runs"]
    second_email_run = runs[1]["runId"]
    rows = list(csv.DictReader(io.StringIO(unlocked("export", "--run", second_email_run).stdout)))
    assert [r["personnel_id"] for r in rows] == ["3", "5"]


def test_file_output_prints_a_note_for_people(unlocked: CLI, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = unlocked("export", "-o", str(target))
    assert result.exit_code == 0
    assert f"Exported 4 email contacts to {target}" in result.stderr.replace("\n", "")
    assert result.stdout == ""


def test_json_without_output_is_a_usage_error(cli: CLI) -> None:
    result = cli("export", "--json")
    assert result.exit_code == 2
    assert "--json prints a summary and needs --output" in result.stderr


def test_unknown_format_is_a_usage_error(cli: CLI) -> None:
    assert cli("export", "--format", "xlsx").exit_code == 2


def test_without_a_state_file_the_export_is_empty(cli: CLI, state_file: Path) -> None:
    result = cli("export")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [",".join(COLUMNS)]
    assert "No state file" in result.stderr
    assert not state_file.exists()


def test_csv_neutralises_formulas_in_free_text_but_not_in_addresses() -> None:
    row = dict.fromkeys(COLUMNS, "") | {
        "personnel_id": "1",
        "full_name": '=HYPERLINK("x")',
        "title": "+1 Sales",
        "company_name": "@Acme",
        "email": "-odd@example.test",
    }
    (parsed,) = csv.DictReader(io.StringIO(render([row], "email", ExportFormat.CSV)))
    assert parsed["full_name"] == '\'=HYPERLINK("x")'
    assert parsed["title"] == "'+1 Sales"
    assert parsed["company_name"] == "'@Acme"
    assert parsed["email"] == "-odd@example.test"


def test_csv_guards_a_formula_hidden_behind_a_line_feed_with_the_consoles_rule() -> None:
    row = dict.fromkeys(COLUMNS, "") | {"personnel_id": "1", "full_name": "\n=1+1", "title": "+49 30 1234"}
    (parsed,) = csv.DictReader(io.StringIO(render([row], "email", ExportFormat.CSV)))
    assert parsed["full_name"] == "'\n=1+1"
    assert parsed["title"] == "'+49 30 1234"  # only an address may be a phone number


def test_an_unknown_run_is_an_error_not_an_empty_export(unlocked: CLI, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    result = unlocked("export", "--run", "nope", "-o", str(target))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: no run nope in ")
    assert result.stdout == ""
    assert not target.exists()


def test_an_unknown_run_without_a_state_file_is_an_error(cli: CLI, state_file: Path) -> None:
    result = cli("export", "--run", "nope")
    assert result.exit_code == 1
    assert f"error: no run nope: there is no state file at {state_file}" in result.stderr.replace("\n", "")
    assert result.stdout == ""


def test_a_phone_run_exports_its_phones_without_asking_for_phone(unlocked: CLI) -> None:
    phone_run = unlocked.json("tasks", "list")["runs"][0]["runId"]
    rows = list(csv.DictReader(io.StringIO(unlocked("export", "--run", phone_run).stdout)))
    assert [(r["personnel_id"], r["phone"]) for r in rows] == [("3", phone_of(3)), ("6", phone_of(6))]


def test_phone_with_an_email_run_is_a_usage_error(unlocked: CLI) -> None:
    email_run = unlocked.json("tasks", "list")["runs"][1]["runId"]
    result = unlocked("export", "--run", email_run, "--phone")
    assert result.exit_code == 2
    assert f"run {email_run} unlocked emails; drop --phone" in result.stderr.replace("\n", "")


def test_an_existing_output_file_is_replaced_private(unlocked: CLI, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    target.chmod(0o644)  # a file anyone may read: the export must not inherit that
    assert unlocked("export", "-o", str(target)).exit_code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert email_of(1) in target.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # no temporary file left behind


def test_an_inferred_address_is_exported_with_its_source(connected: CLI, live: LiveServer) -> None:
    points = contact_points.c
    person_7 = (points.personnel_id == 7) & (points.channel == "email")
    with live.rt.db.read() as conn:
        before = conn.execute(
            select(points.source, points.verification_status, points.verification_score).where(person_7)
        ).one()
    with live.rt.db.write() as conn:  # the server found 7's address (shared server: put back below)
        conn.execute(
            update(contact_points)
            .where(person_7)
            .values(source="pattern", verification_status="accept_all", verification_score=61)
        )
    try:
        connected.json("unlock", "--event", "100", "--ids", "1,7", "--yes")
    finally:
        with live.rt.db.write() as conn:
            conn.execute(
                update(contact_points)
                .where(person_7)
                .values(source=before[0], verification_status=before[1], verification_score=before[2])
            )
    rows = list(csv.DictReader(io.StringIO(connected("export").stdout)))
    got = [
        (r["personnel_id"], r["email"], r["source"], r["verification_status"], r["verification_score"]) for r in rows
    ]
    assert got == [("1", email_of(1), "vault", "valid", "95"), ("7", email_of(7), "pattern", "accept_all", "61")]
