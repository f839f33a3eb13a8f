"""Importer: valid files load; any bad record changes nothing; re-imports are no-ops; no plaintext at rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.tables import companies, contact_points, event_personnel, events, personnel
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.runtime import Runtime
from contactvault.server.services.directory import PageRequest, search_contacts
from contactvault.server.services.importer import ImportValidationError, import_files

TABLES = (events, companies, personnel, event_personnel, contact_points)
EMAIL = "ingrid.larsen@fjordpower.no"
PHONE = "+4791234567"
PAGE = PageRequest(1, 20)


def valid_records() -> list[dict[str, Any]]:
    """One of each record type, all consistent."""
    return [
        {
            "type": "event",
            "id": "501",
            "name": "Oslo Energy Forum 2026",
            "nickname": "OEF26",
            "date_start": "2026-05-04",
            "date_end": "2026-05-06",
            "city": "Oslo",
            "country": "Norway",
            "topics": ["Hydrogen", "Wind Power"],
            "attendee_count": 12000,
        },
        {"type": "company", "id": "7001", "name": "Fjord Power", "domain": "fjordpower.no", "industry": "Energy"},
        {"type": "company", "id": "7002", "name": "Nordlys Grid", "domain": "nordlysgrid.no"},
        {
            "type": "person",
            "id": "900001",
            "full_name": "Ingrid Larsen",
            "title": "VP of Sales",
            "department": "Sales",
            "seniority_level": "VP",
            "linkedin_url": "https://www.linkedin.com/in/ingrid-larsen",
            "company_id": "7001",
        },
        {"type": "person", "id": "900002", "full_name": "Lars Berg", "title": "Buyer", "company_id": "7002"},
        {
            "type": "attendance",
            "event_id": "501",
            "personnel_id": "900001",
            "source_types": ["social", "exhibitor"],
            "exhibitor_id": "7001",
        },
        {"type": "attendance", "event_id": "501", "personnel_id": "900002", "source_types": ["visitors"]},
        {
            "type": "contact_point",
            "personnel_id": "900001",
            "channel": "email",
            "value": EMAIL,
            "verification_status": "valid",
            "verification_score": 97,
            "checked_at": "2026-01-10T09:30:00+01:00",
        },
        {"type": "contact_point", "personnel_id": "900001", "channel": "phone", "value": "+47 912 34 567"},
    ]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    """One JSON object a line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A fresh, empty directory, on each backend (``database_url`` comes from the shared conftest)."""
    rt = build_runtime(Settings(database_url=database_url, encryption_key_file=tmp_path / "k.json"))
    yield rt
    rt.db.dispose()


def contents(rt: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every directory row, exactly as stored."""
    with rt.db.read() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))] for t in TABLES}


def row_counts(rt: Runtime) -> dict[str, int]:
    """Rows per directory table."""
    with rt.db.read() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in TABLES}


def test_a_valid_file_imports_every_record(runtime: Runtime, tmp_path: Path) -> None:
    summary = import_files(runtime, [write_jsonl(tmp_path / "d.jsonl", valid_records())])

    assert {k: (c.inserted, c.updated, c.unchanged) for k, c in summary.counts().items()} == {
        "event": (1, 0, 0),
        "company": (2, 0, 0),
        "person": (2, 0, 0),
        "attendance": (2, 0, 0),
        "contact_point": (2, 0, 0),
    }
    assert (summary.files, summary.records) == (1, 9)
    with runtime.db.read() as conn:
        event = conn.execute(select(events)).one()
        sources = dict(conn.execute(select(event_personnel.c.personnel_id, event_personnel.c.source_types)).all())
        points = {r.channel: r for r in conn.execute(select(contact_points))}
    assert (event.personnel_count, event.exhibitor_count) == (2, 1)
    assert json.loads(event.topics) == ["Hydrogen", "Wind Power"]
    assert event.date_start.isoformat() == "2026-05-04"
    assert sources == {900001: "exhibitor,social", 900002: "visitors"}
    assert runtime.cipher.open(points["email"].value_encrypted) == EMAIL
    assert points["email"].value_hash == runtime.cipher.lookup_hash("email", EMAIL)
    assert points["email"].checked_at.isoformat() == "2026-01-10T08:30:00+00:00"
    assert points["email"].source == "import"
    # Phone numbers are stored in E.164, whatever spacing the file used.
    assert runtime.cipher.open(points["phone"].value_encrypted) == PHONE


def test_records_may_reference_rows_already_in_the_database(runtime: Runtime, tmp_path: Path) -> None:
    records = valid_records()
    import_files(runtime, [write_jsonl(tmp_path / "companies.jsonl", records[:3])])
    summary = import_files(runtime, [write_jsonl(tmp_path / "people.jsonl", records[3:])])
    assert summary.person.inserted == 2
    assert summary.event.inserted == 0
    with runtime.db.read() as conn:
        assert conn.execute(select(events.c.personnel_count)).scalar_one() == 2


BAD_LINES = [
    pytest.param({"type": "venue", "id": "1", "name": "X"}, "type", "unknown record type", id="wrong-type"),
    pytest.param({"id": "1", "name": "X"}, "type", 'missing "type"', id="no-type"),
    pytest.param({"type": "person", "id": "900003"}, "full_name", "is required", id="missing-field"),
    pytest.param(
        {"type": "company", "id": "7003", "name": "X", "ceo": "Y"}, "ceo", "not permitted", id="unknown-field"
    ),
    pytest.param(
        {"type": "event", "id": "502", "name": "X", "date_start": "2026-02-30"}, "date_start", "date", id="bad-date"
    ),
    pytest.param(
        {"type": "event", "id": "502", "name": "X", "date_start": "2026-03-02", "date_end": "2026-03-01"},
        None,
        "date_end is before date_start",
        id="dates-reversed",
    ),
    pytest.param({"type": "company", "id": 7003, "name": "X"}, "id", "string of 1-19 digits", id="numeric-id"),
    pytest.param(
        {"type": "attendance", "event_id": "501", "personnel_id": "999", "source_types": ["visitors"]},
        "personnel_id",
        "person 999 is neither in the import files nor in the database",
        id="dangling-person",
    ),
    pytest.param(
        {"type": "person", "id": "900003", "full_name": "A B", "company_id": "8888"},
        "company_id",
        "company 8888",
        id="dangling-company",
    ),
    pytest.param(
        {"type": "attendance", "event_id": "501", "personnel_id": "900002", "source_types": ["vip"]},
        "source_types.0",
        "'exhibitor', 'social' or 'visitors'",
        id="bad-source-type",
    ),
    pytest.param(
        {"type": "contact_point", "personnel_id": "900002", "channel": "fax", "value": "+4712345678"},
        "channel",
        "'email' or 'phone'",
        id="bad-channel",
    ),
    pytest.param(
        {"type": "company", "id": "7001", "name": "Fjord Power Again"}, "id", "contradicts the company", id="dup"
    ),
]


@pytest.mark.parametrize(("bad", "field", "message"), BAD_LINES)
def test_a_bad_record_names_file_line_and_field_and_changes_nothing(
    runtime: Runtime, tmp_path: Path, bad: dict[str, Any], field: str | None, message: str
) -> None:
    import_files(runtime, [write_jsonl(tmp_path / "first.jsonl", valid_records()[:2])])
    before = contents(runtime)
    good = write_jsonl(tmp_path / "good.jsonl", [{"type": "company", "id": "7100", "name": "Harbor Freight Lines"}])
    records = valid_records()
    records.insert(4, bad)  # line 5, between valid records
    broken = write_jsonl(tmp_path / "broken.jsonl", records)

    with pytest.raises(ImportValidationError) as caught:
        import_files(runtime, [good, broken])

    error = caught.value
    assert isinstance(error, InvalidRequest)
    assert error.message.startswith(f"{broken} line 5")
    assert message in error.message
    assert error.details is not None
    assert (error.details["file"], error.details["line"], error.details["field"]) == (str(broken), 5, field)
    if field:
        assert f"field {field!r}" in error.message
    assert contents(runtime) == before


def test_the_same_record_in_two_files_is_imported_once(runtime: Runtime, tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", valid_records())
    second = write_jsonl(tmp_path / "b.jsonl", valid_records()[1:4])
    summary = import_files(runtime, [first, second])
    assert (summary.company.inserted, summary.person.inserted, summary.records) == (2, 2, 12)


def test_a_line_that_is_not_json_is_reported(runtime: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(valid_records()[1]) + "\n\n{not json\n")
    with pytest.raises(ImportValidationError, match=r"d\.jsonl line 3: not valid JSON"):
        import_files(runtime, [path])
    assert row_counts(runtime) == dict.fromkeys(row_counts(runtime), 0)


def test_a_missing_file_is_reported_and_nothing_is_written(runtime: Runtime, tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", valid_records())
    with pytest.raises(ImportValidationError, match=r"missing\.jsonl: cannot be read"):
        import_files(runtime, [good, tmp_path / "missing.jsonl"])
    assert row_counts(runtime) == dict.fromkeys(row_counts(runtime), 0)


def test_errors_never_repeat_a_contact_value(runtime: Runtime, tmp_path: Path) -> None:
    records = valid_records()
    records[-2]["value"] = "ingrid.larsen@@fjordpower"
    records[-1]["value"] = "+47 call 555 0100 ext 12"
    with pytest.raises(ImportValidationError) as caught:
        import_files(runtime, [write_jsonl(tmp_path / "d.jsonl", records)])
    shown = caught.value.message + json.dumps(caught.value.details)
    assert "is not a valid email address" in shown
    assert "is not a valid phone number" in shown
    assert caught.value.details is not None
    assert caught.value.details["problemCount"] == 2
    for secret in ("ingrid.larsen", "fjordpower", "555"):
        assert secret not in shown


def test_reimporting_the_same_file_changes_nothing(runtime: Runtime, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", valid_records())
    import_files(runtime, [path])
    before = contents(runtime)

    again = import_files(runtime, [path])

    assert {k: (c.inserted, c.updated) for k, c in again.counts().items()} == dict.fromkeys(again.counts(), (0, 0))
    assert [c.unchanged for c in again.counts().values()] == [1, 2, 2, 2, 2]
    # Byte for byte: not even the sealed values are re-encrypted.
    assert contents(runtime) == before


def test_a_changed_record_is_updated_and_stays_searchable(runtime: Runtime, tmp_path: Path) -> None:
    import_files(runtime, [write_jsonl(tmp_path / "d.jsonl", valid_records())])
    records = valid_records()
    records[1]["name"] = "Fjord Renewables"
    records[3]["title"] = "Chief Revenue Officer"
    records[-2]["value"] = "i.larsen@fjordpower.no"
    records[5]["source_types"] = ["exhibitor"]

    summary = import_files(runtime, [write_jsonl(tmp_path / "d2.jsonl", records)])

    assert (summary.company.updated, summary.company.unchanged) == (1, 1)
    assert (summary.person.updated, summary.person.unchanged) == (1, 1)
    assert (summary.attendance.updated, summary.attendance.unchanged) == (1, 1)
    assert (summary.contact_point.updated, summary.contact_point.unchanged) == (1, 1)
    assert [i.company_name for i in search_contacts(runtime, 1, PAGE, company_name="renew").items] == [
        "Fjord Renewables"
    ]
    assert search_contacts(runtime, 1, PAGE, company_name="fjord power").total == 0
    with runtime.db.read() as conn:
        if runtime.db.is_sqlite:
            conn.execute(text("INSERT INTO companies_fts(companies_fts, rank) VALUES ('integrity-check', 1)"))
            conn.execute(text("INSERT INTO personnel_fts(personnel_fts, rank) VALUES ('integrity-check', 1)"))
        sealed = conn.execute(select(contact_points.c.value_encrypted).where(contact_points.c.channel == "email"))
        assert runtime.cipher.open(sealed.scalar_one()) == "i.larsen@fjordpower.no"
        assert conn.execute(select(events.c.exhibitor_count)).scalar_one() == 1


def test_no_plaintext_contact_value_reaches_the_database_file(tmp_path: Path) -> None:
    rt = build_runtime(Settings(database_url=f"sqlite:///{tmp_path}/t.db", encryption_key_file=tmp_path / "k.json"))
    try:
        import_files(rt, [write_jsonl(tmp_path / "d.jsonl", valid_records())])
    finally:
        rt.db.dispose()  # closing the last connection checkpoints the WAL into the main file
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("t.db*"))
    assert b"Fjord Power" in stored  # the search works: the file is readable as plain bytes
    for value in (EMAIL, PHONE, "912 34 567"):
        assert value.encode() not in stored
