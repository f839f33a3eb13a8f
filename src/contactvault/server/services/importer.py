"""Load a directory from JSONL files: validate every record of every file first, then write all in one go.

One JSON object a line, tagged by ``"type"`` (``event``, ``company``, ``person``, ``attendance``,
``contact_point``); the format is documented in ``docs/import-format.md``. Any invalid record, in any file,
means nothing is written. Records are upserted by id (attendance by event and person, contact points by person
and channel), so importing the same files twice changes nothing the second time. Contact values arrive in
plaintext and are sealed before they touch the database; no error message ever repeats one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from pydantic import (
    ValidationError,
)

from contactvault.server.addresses import AddressError, canonical, is_international, legacy_form, region_of_country
from contactvault.server.db import imports as stored
from contactvault.server.db.engine import Transaction
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.runtime import Runtime
from contactvault.server.services.import_records import (
    RECORDS,
    SOURCE_ORDER,
    AttendanceRecord,
    CompanyRecord,
    ContactPointRecord,
    EventRecord,
    PersonRecord,
)
from contactvault.server.services.suppressions import carry_over_opt_outs

# How many problems an error reports in ``details`` (the message names the first).
MAX_REPORTED = 20


class ImportValidationError(InvalidRequest):
    """A record of an import file is invalid; the message names the file, the line and the field."""


# ---------------------------------------------------------------------------------------------- results


@dataclass(slots=True)
class TypeCounts:
    """What an import did to the records of one type."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(slots=True)
class ImportSummary:
    """Per record type: inserted, updated and unchanged; plus how many files, records and seconds."""

    event: TypeCounts = field(default_factory=TypeCounts)
    company: TypeCounts = field(default_factory=TypeCounts)
    person: TypeCounts = field(default_factory=TypeCounts)
    attendance: TypeCounts = field(default_factory=TypeCounts)
    contact_point: TypeCounts = field(default_factory=TypeCounts)
    files: int = 0
    records: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, TypeCounts]:
        """The per-type counts, keyed by record type."""
        return {
            "event": self.event,
            "company": self.company,
            "person": self.person,
            "attendance": self.attendance,
            "contact_point": self.contact_point,
        }


@dataclass(frozen=True, slots=True)
class _Origin:
    file: str
    line: int


@dataclass(slots=True)
class _Problems:
    items: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    def add(self, origin: _Origin, field_name: str | None, message: str) -> None:
        self.total += 1
        if len(self.items) < MAX_REPORTED:
            self.items.append({"file": origin.file, "line": origin.line, "field": field_name, "message": message})

    def raise_if_any(self) -> None:
        if not self.total:
            return
        first = self.items[0]
        # Line 0 stands for the file as a whole (it could not be opened).
        where = f"{first['file']} line {first['line']}" if first["line"] else str(first["file"])
        if first["field"]:
            where += f", field {first['field']!r}"
        more = f" ({self.total - 1} more problem{'s' if self.total > 2 else ''})" if self.total > 1 else ""
        raise ImportValidationError(
            f"{where}: {first['message']}{more}",
            {**first, "problems": self.items, "problemCount": self.total},
        )


@dataclass(slots=True)
class _Batch:
    """Every valid record of the files, keyed the way it is stored, with where it came from."""

    events: dict[int, tuple[EventRecord, _Origin]] = field(default_factory=dict)
    companies: dict[int, tuple[CompanyRecord, _Origin]] = field(default_factory=dict)
    people: dict[int, tuple[PersonRecord, _Origin]] = field(default_factory=dict)
    attendance: dict[tuple[int, int], tuple[AttendanceRecord, _Origin]] = field(default_factory=dict)
    contacts: dict[tuple[int, str], tuple[ContactPointRecord, _Origin]] = field(default_factory=dict)
    records: int = 0


# ---------------------------------------------------------------------------------------------- the use case


def import_files(rt: Runtime, paths: Sequence[Path]) -> ImportSummary:
    """Validate every record of ``paths``, then upsert them all in one transaction (all or nothing)."""
    started = time.perf_counter()
    batch = _read_all(paths)
    summary = ImportSummary(files=len(paths), records=batch.records)
    with rt.db.write() as conn:
        # References are checked inside the write transaction, so nothing can vanish between check and write.
        _check_references(conn, batch)
        values = _canonical_values(conn, batch)
        _write_events(conn, batch, summary.event)
        _write_companies(conn, batch, summary.company)
        _write_people(conn, batch, summary.person)
        _write_attendance(conn, batch, summary.attendance)
        hashes = _write_contacts(rt, conn, batch, values, summary.contact_point)
        touched = set(batch.events) | {event_id for event_id, _ in batch.attendance}
        stored.recount_events(conn, sorted(touched))
    # After the commit, in its own short transaction behind the suppression gate (the gate comes first in every
    # transaction that takes it): an opt-out recorded under a value's legacy hash now lists its canonical hash too.
    carry_over_opt_outs(rt, hashes)
    summary.seconds = time.perf_counter() - started
    return summary


# ---------------------------------------------------------------------------------------------- pass 1: files


def _read_all(paths: Sequence[Path]) -> _Batch:
    batch = _Batch()
    problems = _Problems()
    for path in paths:
        try:
            handle = path.open("rb")
        except OSError as exc:
            problems.add(_Origin(str(path), 0), None, f"cannot be read ({exc.strerror or exc.__class__.__name__})")
            continue
        with handle:
            for number, raw in enumerate(handle, start=1):
                if raw.strip():
                    _read_line(batch, problems, _Origin(str(path), number), raw)
    problems.raise_if_any()
    return batch


_Slot = dict[Any, tuple[Any, _Origin]]


def _read_line(batch: _Batch, problems: _Problems, origin: _Origin, raw: bytes) -> None:
    try:
        record = RECORDS.validate_json(raw, strict=True)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False, include_context=False):
            problems.add(origin, _field_of(error), _message_of(error))
        return
    batch.records += 1
    key: Any
    if isinstance(record, EventRecord):
        slot, key, name = cast(_Slot, batch.events), record.id, "id"
    elif isinstance(record, CompanyRecord):
        slot, key, name = cast(_Slot, batch.companies), record.id, "id"
    elif isinstance(record, PersonRecord):
        slot, key, name = cast(_Slot, batch.people), record.id, "id"
    elif isinstance(record, AttendanceRecord):
        slot, key, name = cast(_Slot, batch.attendance), (record.event_id, record.personnel_id), "personnel_id"
    else:
        slot, key, name = cast(_Slot, batch.contacts), (record.personnel_id, record.channel), "channel"
    if key in slot:
        earlier, first = slot[key]
        # The same record twice (overlapping files) is harmless; two versions of one record are ambiguous.
        if _comparable(earlier) != _comparable(record):
            problems.add(origin, name, f"contradicts the {record.type} at {first.file} line {first.line}")
        return
    slot[key] = (record, origin)


def _comparable(record: Any) -> Any:
    """A record as it is compared with another version of itself: a contact value in its canonical form (a national
    phone number, whose country is not known yet, in its legacy form)."""
    if not isinstance(record, ContactPointRecord):
        return record
    try:
        value = canonical(record.channel, record.value)
    except AddressError:
        value = legacy_form(record.channel, record.value)
    return record.model_copy(update={"value": value})


def _field_of(error: Any) -> str | None:
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return "type"
    # The first element of a record's location is its type tag; the rest is the field (and list index).
    location = [str(part) for part in error["loc"][1:]]
    return ".".join(location) or None


def _message_of(error: Any) -> str:
    kind = error["type"]
    if kind == "union_tag_invalid":
        return "unknown record type; expected one of event, company, person, attendance, contact_point"
    if kind == "union_tag_not_found":
        return 'missing "type" (event, company, person, attendance or contact_point)'
    if kind == "json_invalid":
        return "not valid JSON"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a JSON object"
    if kind == "missing":
        return "is required"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


# ---------------------------------------------------------------------------------------------- references


def _check_references(conn: Transaction, batch: _Batch) -> None:
    problems = _Problems()
    wanted: dict[str, dict[int, list[tuple[_Origin, str]]]] = {"event": {}, "company": {}, "person": {}}

    known: dict[str, Collection[int]] = {"event": batch.events, "company": batch.companies, "person": batch.people}

    def want(kind: str, ident: int | None, origin: _Origin, name: str) -> None:
        if ident is None:
            return
        if ident not in known[kind]:
            wanted[kind].setdefault(ident, []).append((origin, name))

    for person, origin in batch.people.values():
        want("company", person.company_id, origin, "company_id")
    for attendance, origin in batch.attendance.values():
        want("event", attendance.event_id, origin, "event_id")
        want("person", attendance.personnel_id, origin, "personnel_id")
        want("company", attendance.exhibitor_id, origin, "exhibitor_id")
    for contact, origin in batch.contacts.values():
        want("person", contact.personnel_id, origin, "personnel_id")

    dangling: list[tuple[_Origin, str, str, int]] = []
    for kind, refs in wanted.items():
        present = stored.existing_ids(conn, kind, list(refs))
        for ident, uses in refs.items():
            if ident not in present:
                dangling.extend((origin, name, kind, ident) for origin, name in uses)
    for origin, name, kind, ident in sorted(dangling, key=lambda d: (d[0].file, d[0].line, d[1])):
        problems.add(origin, name, f"{kind} {ident} is neither in the import files nor in the database")
    problems.raise_if_any()


# ---------------------------------------------------------------------------------------------- canonical values


def _canonical_values(conn: Transaction, batch: _Batch) -> dict[tuple[int, str], str]:
    """Each contact point's canonical form; a national phone number is read with its person's country."""
    problems = _Problems()
    national = sorted(
        {
            pid
            for (pid, channel), (r, _) in batch.contacts.items()
            if channel == "phone" and not is_international(r.value)
        }
    )
    regions = _regions(conn, batch, national) if national else {}
    values: dict[tuple[int, str], str] = {}
    for key, (record, origin) in batch.contacts.items():
        try:
            values[key] = canonical(record.channel, record.value, regions.get(record.personnel_id))
        except AddressError as exc:
            message = exc.message
            if record.channel == "phone" and record.personnel_id in national and record.personnel_id not in regions:
                message = "is a national number, and neither the person's company nor their event has a known "
                message += "country: write it as + country code and number"
            problems.add(origin, "value", message)
    problems.raise_if_any()
    return values


def _regions(conn: Transaction, batch: _Batch, person_ids: Sequence[int]) -> dict[int, str]:
    """The region to read national numbers by: the company's country, else the one country of the person's events
    in these files (people with neither are left out)."""
    company_of = _column(conn, "person", "company_id", batch.people, person_ids)
    countries = _column(conn, "company", "country", batch.companies, {c for c in company_of.values() if c})
    events_of: dict[int, set[int]] = {}
    for event_id, pid in batch.attendance:
        events_of.setdefault(pid, set()).add(event_id)
    event_ids = {e for pid in person_ids for e in events_of.get(pid, ())}
    event_countries = _column(conn, "event", "country", batch.events, event_ids)
    regions: dict[int, str] = {}
    for pid in person_ids:
        region = region_of_country(countries.get(company_of.get(pid)))
        if region is None:
            found = {region_of_country(event_countries.get(e)) for e in events_of.get(pid, ())} - {None}
            region = found.pop() if len(found) == 1 else None
        if region is not None:
            regions[pid] = region
    return regions


def _column(conn: Transaction, kind: str, name: str, here: _Slot, ids: Collection[int]) -> dict[Any, Any]:
    """One field of these records, from the import files or else from the database."""
    found = {i: getattr(here[i][0], name) for i in ids if i in here}
    stored_rows = stored.stored_rows(conn, kind, sorted(set(ids) - set(found)))
    return found | {i: row[name] for i, row in stored_rows.items()}


# ---------------------------------------------------------------------------------------------- pass 2: writes


def _event_row(record: EventRecord) -> dict[str, Any]:
    row = record.model_dump(exclude={"type", "topics"})
    row["topics"] = json.dumps(record.topics) if record.topics else None
    return row


def _write_events(conn: Transaction, batch: _Batch, counts: TypeCounts) -> None:
    rows = {ident: _event_row(record) for ident, (record, _) in batch.events.items()}
    _upsert_by_id(conn, "event", rows, counts, same=_same_event)


def _same_event(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def topics(value: str | None) -> Any:
        return json.loads(value) if value else []

    return all(old[k] == v for k, v in new.items() if k != "topics") and topics(old["topics"]) == topics(new["topics"])


def _write_companies(conn: Transaction, batch: _Batch, counts: TypeCounts) -> None:
    rows = {ident: record.model_dump(exclude={"type"}) for ident, (record, _) in batch.companies.items()}
    _upsert_by_id(conn, "company", rows, counts)


def _write_people(conn: Transaction, batch: _Batch, counts: TypeCounts) -> None:
    rows = {ident: record.model_dump(exclude={"type"}) for ident, (record, _) in batch.people.items()}
    _upsert_by_id(conn, "person", rows, counts)


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return all(old[k] == v for k, v in new.items())


def _upsert_by_id(
    conn: Transaction,
    kind: str,
    rows: dict[int, dict[str, Any]],
    counts: TypeCounts,
    same: Any = _same,
) -> None:
    if not rows:
        return
    existing = stored.stored_rows(conn, kind, list(rows))
    changed = []
    for ident, row in rows.items():
        old = existing.get(ident)
        if old is None:
            counts.inserted += 1
        elif same(old, row):
            counts.unchanged += 1
            continue
        else:
            counts.updated += 1
        changed.append(row)
    stored.upsert(conn, kind, changed)


def _write_attendance(conn: Transaction, batch: _Batch, counts: TypeCounts) -> None:
    rows = {
        key: {
            "event_id": record.event_id,
            "personnel_id": record.personnel_id,
            "source_types": ",".join(s for s in SOURCE_ORDER if s in record.source_types),
            "exhibitor_id": record.exhibitor_id,
        }
        for key, (record, _) in batch.attendance.items()
    }
    existing = stored.stored_rows(conn, "attendance", list(rows))
    _classify_and_upsert(conn, "attendance", rows, existing, counts)


def _write_contacts(
    rt: Runtime, conn: Transaction, batch: _Batch, values: dict[tuple[int, str], str], counts: TypeCounts
) -> list[tuple[str, bytes, bytes]]:
    """Store each contact point's canonical form, sealed, with its legacy and canonical keyed hashes; returns
    (channel, legacy hash, canonical hash) of every one."""
    existing = stored.stored_rows(conn, "contact_point", list(batch.contacts))
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    hashes: list[tuple[str, bytes, bytes]] = []
    for key, (record, _) in batch.contacts.items():
        value = values[key]
        legacy_hash = rt.cipher.lookup_hash(record.channel, legacy_form(record.channel, record.value))
        canonical_hash = rt.cipher.lookup_hash(record.channel, value)
        hashes.append((record.channel, legacy_hash, canonical_hash))
        row: dict[str, Any] = {
            "personnel_id": record.personnel_id,
            "channel": record.channel,
            "value_hash": legacy_hash,
            "canonical_hash": canonical_hash,
            "source": record.source,
            "verification_status": record.verification_status,
            "verification_score": record.verification_score,
            "checked_at": record.checked_at,
        }
        old = existing.get(key)
        # A fresh seal never equals the stored one (new IV): compare the keyed hashes, and seal only what changed.
        if old is None or not _same(old, row):
            row["value_encrypted"] = rt.cipher.seal(value)
        rows[key] = row
    _classify_and_upsert(conn, "contact_point", rows, existing, counts)
    return hashes


def _classify_and_upsert(
    conn: Transaction,
    kind: str,
    rows: dict[Any, dict[str, Any]],
    existing: dict[Any, dict[str, Any]],
    counts: TypeCounts,
) -> None:
    changed = []
    for key, row in rows.items():
        old = existing.get(key)
        if old is None:
            counts.inserted += 1
        elif _same(old, {k: v for k, v in row.items() if k != "value_encrypted"}):
            counts.unchanged += 1
            continue
        else:
            counts.updated += 1
        changed.append(row)
    stored.upsert(conn, kind, changed)
