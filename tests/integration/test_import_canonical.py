"""The importer stores canonical forms: emails by email-validator, phones in E.164 read with the company's or
event's country; a value that cannot be read is refused by file, line and field, never quoted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.tables import companies, contact_points, personnel
from contactvault.server.runtime import Runtime
from contactvault.server.services.importer import ImportValidationError, import_files

# (country as the company record gives it, national number, E.164)
NATIONAL = [
    ("France", "01 23 45 67 89", "+33123456789"),
    ("Germany", "030 1234567", "+49301234567"),
    ("US", "(202) 555-0143", "+12025550143"),
    ("United Kingdom", "020 7946 0958", "+442079460958"),
    ("Japan", "03-1234-5678", "+81312345678"),
]


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A fresh, empty directory, on each backend."""
    rt = build_runtime(Settings(database_url=database_url, encryption_key_file=tmp_path / "k.json"))
    yield rt
    rt.db.dispose()


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    """One JSON object a line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def person(pid: int, company: int | None = None) -> dict[str, Any]:
    """A person record."""
    record: dict[str, Any] = {"type": "person", "id": str(pid), "full_name": f"Person {pid}"}
    if company is not None:
        record["company_id"] = str(company)
    return record


def point(pid: int, channel: str, value: str) -> dict[str, Any]:
    """A contact point record."""
    return {"type": "contact_point", "personnel_id": str(pid), "channel": channel, "value": value}


def stored_values(rt: Runtime) -> dict[tuple[int, str], tuple[str, bytes, bytes | None]]:
    """Per (person, channel): the opened value, its legacy hash and its canonical hash."""
    with rt.db.read() as conn:
        rows = conn.execute(select(contact_points)).all()
    return {
        (r.personnel_id, r.channel): (
            rt.cipher.open(r.value_encrypted),
            bytes(r.value_hash),
            None if r.canonical_hash is None else bytes(r.canonical_hash),
        )
        for r in rows
    }


def test_national_numbers_are_read_with_the_companys_country(runtime: Runtime, tmp_path: Path) -> None:
    records: list[dict[str, Any]] = []
    for n, (country, number, _) in enumerate(NATIONAL, start=1):
        records += [
            {"type": "company", "id": str(n), "name": f"Company {n}", "country": country},
            person(n, company=n),
            point(n, "phone", number),
        ]
    import_files(runtime, [write_jsonl(tmp_path / "d.jsonl", records)])

    stored = stored_values(runtime)
    assert {pid: stored[(pid, "phone")][0] for pid in range(1, 6)} == {
        n: e164 for n, (_, _, e164) in enumerate(NATIONAL, start=1)
    }
    for pid in range(1, 6):
        value, _, canonical_hash = stored[(pid, "phone")]
        assert canonical_hash == runtime.cipher.lookup_hash("phone", value)


def test_a_company_already_in_the_database_gives_its_country(runtime: Runtime, tmp_path: Path) -> None:
    import_files(
        runtime, [write_jsonl(tmp_path / "c.jsonl", [{"type": "company", "id": "9", "name": "X", "country": "FR"}])]
    )
    import_files(
        runtime, [write_jsonl(tmp_path / "p.jsonl", [person(1, company=9), point(1, "phone", "06 12 34 56 78")])]
    )
    assert stored_values(runtime)[(1, "phone")][0] == "+33612345678"


def test_without_a_company_country_the_events_country_reads_the_number(runtime: Runtime, tmp_path: Path) -> None:
    records = [
        {"type": "event", "id": "5", "name": "Tokyo Expo", "country": "Japan"},
        {"type": "company", "id": "1", "name": "No Country Inc"},
        person(1, company=1),
        {"type": "attendance", "event_id": "5", "personnel_id": "1", "source_types": ["visitors"]},
        point(1, "phone", "03-1234-5678"),
    ]
    import_files(runtime, [write_jsonl(tmp_path / "d.jsonl", records)])
    assert stored_values(runtime)[(1, "phone")][0] == "+81312345678"


def test_international_numbers_need_no_country_and_are_stored_in_e164(runtime: Runtime, tmp_path: Path) -> None:
    records = [person(1), point(1, "phone", "+44 (0)20 7946-0958"), person(2), point(2, "phone", "0033 1 23 45 67 89")]
    import_files(runtime, [write_jsonl(tmp_path / "d.jsonl", records)])
    stored = stored_values(runtime)
    assert stored[(1, "phone")][0] == "+442079460958"
    assert stored[(2, "phone")][0] == "+33123456789"
    # The legacy hash is of what was written, trimmed and without punctuation, as before canonical forms.
    assert stored[(1, "phone")][1] == runtime.cipher.lookup_hash("phone", "+4402079460958")


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        pytest.param("  Ingrid.Larsen@FjordPower.NO ", "ingrid.larsen@fjordpower.no", id="case-and-whitespace"),
        pytest.param("ingrid+expo@fjordpower.no", "ingrid+expo@fjordpower.no", id="plus-addressing"),
        pytest.param("ingrid@Bücher.example", "ingrid@xn--bcher-kva.example", id="idna-domain"),
        pytest.param("Ingríd@fjordpower.no", "ingríd@fjordpower.no", id="unicode-local-part"),
    ],
)
def test_emails_are_stored_in_canonical_form(runtime: Runtime, tmp_path: Path, written: str, canonical: str) -> None:
    import_files(runtime, [write_jsonl(tmp_path / "d.jsonl", [person(1), point(1, "email", written)])])
    value, legacy_hash, canonical_hash = stored_values(runtime)[(1, "email")]
    assert value == canonical
    assert canonical_hash == runtime.cipher.lookup_hash("email", canonical)
    assert legacy_hash == runtime.cipher.lookup_hash("email", written.strip().lower())


BAD_VALUES = [
    pytest.param("email", "ingrid..larsen@fjordpower.no", "is not a valid email address", id="email-two-dots"),
    pytest.param("email", "ingrid@fjordpower", "is not a valid email address", id="email-no-tld"),
    pytest.param("phone", "+33 1 23", "is not a possible phone number", id="phone-too-short"),
    pytest.param("phone", "+49 0000 000000", "is not a possible phone number", id="phone-impossible"),
    pytest.param("phone", "01 23 45 67 89 12 34", "is not a possible phone number", id="phone-national-too-long"),
    pytest.param("phone", "0456 98 76 54", "neither the person's company nor their event", id="national-no-country"),
]


@pytest.mark.parametrize(("channel", "value", "message"), BAD_VALUES)
def test_a_value_that_cannot_be_read_names_line_and_field_never_the_value(
    runtime: Runtime, tmp_path: Path, channel: str, value: str, message: str
) -> None:
    records = [
        {"type": "company", "id": "1", "name": "Acme France", "country": "France"},
        {"type": "company", "id": "2", "name": "Nowhere Ltd"},
        person(1, company=1),
        person(2, company=2),
        point(1, "email", "ok@acme.example"),
        point(2 if value.startswith("0456") else 1, channel, value),
    ]
    with pytest.raises(ImportValidationError) as caught:
        import_files(runtime, [write_jsonl(tmp_path / "d.jsonl", records)])
    error = caught.value
    assert error.details is not None
    assert (error.details["line"], error.details["field"]) == (6, "value")
    assert "d.jsonl line 6, field 'value'" in error.message
    shown = error.message + json.dumps(error.details)
    assert message in shown
    digits = "".join(c for c in value if c.isdigit())
    if digits:
        assert digits[-5:] not in "".join(c for c in shown if c.isdigit())
    for part in value.replace("@", " ").replace(".", " ").split():
        if len(part) > 3:
            assert part not in shown
    with runtime.db.read() as conn:  # nothing was written
        for table in (companies, personnel, contact_points):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0


def test_one_address_written_two_ways_in_two_files_is_one_record(runtime: Runtime, tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [person(1), point(1, "email", "Ann.Smith@Example.com")])
    second = write_jsonl(
        tmp_path / "b.jsonl", [point(1, "email", " ann.smith@EXAMPLE.COM"), point(1, "phone", "+33 1 23 45 67 89")]
    )
    third = write_jsonl(tmp_path / "c.jsonl", [point(1, "phone", "+33123456789")])
    summary = import_files(runtime, [first, second, third])
    assert (summary.contact_point.inserted, summary.records) == (2, 5)
    assert stored_values(runtime)[(1, "email")][0] == "ann.smith@example.com"


def test_two_different_addresses_for_one_person_still_contradict(runtime: Runtime, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "d.jsonl", [person(1), point(1, "email", "ann@example.com"), point(1, "email", "ann2@example.com")]
    )
    with pytest.raises(ImportValidationError, match=r"line 3, field 'channel': contradicts the contact_point"):
        import_files(runtime, [path])
