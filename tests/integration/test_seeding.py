"""Seeding: deterministic per seed, realistic in shape, consistent counts, searchable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select, text

from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.tables import companies, contact_points, event_personnel, events, personnel
from contactvault.server.demo import seeding
from contactvault.server.demo.seeding import DirectoryNotEmpty, SeedSummary, seed_directory
from contactvault.server.runtime import Runtime
from contactvault.server.services.directory import PageRequest, search_contacts

DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}")
E164 = re.compile(r"\+[1-9][0-9]{7,14}")
TABLES = (events, companies, personnel, event_personnel, contact_points)


def make_runtime(folder: Path) -> Runtime:
    """A migrated runtime on a fresh SQLite file in ``folder``, keys shared by every runtime of the test."""
    folder.mkdir(parents=True, exist_ok=True)
    # One key file per test: lookup hashes are keyed, so two databases only compare equal under the same keys.
    keys = folder.parent / "k.json"
    return build_runtime(Settings(database_url=f"sqlite:///{folder}/t.db", encryption_key_file=keys))


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A fresh, empty directory, on each backend (``database_url`` comes from the shared conftest)."""
    rt = build_runtime(Settings(database_url=database_url, encryption_key_file=tmp_path / "k.json"))
    yield rt
    rt.db.dispose()


@pytest.fixture
def seeded(runtime: Runtime) -> tuple[Runtime, SeedSummary]:
    """A small seeded directory and the seeding summary."""
    return runtime, seed_directory(runtime, people=2000, events=5, seed=11)


def snapshot(rt: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every directory row, in key order; ciphertexts replaced by what they open to (each seal has a fresh IV)."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    with rt.db.read() as conn:
        for table in TABLES:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            if table is contact_points:
                result[table.name] = [
                    tuple(rt.cipher.open(v) if k == "value_encrypted" else v for k, v in r._mapping.items())
                    for r in rows
                ]
            else:
                result[table.name] = [tuple(r) for r in rows]
    return result


def count(conn: Connection, table: Any) -> int:
    """Rows in a table."""
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_same_seed_gives_identical_rows(tmp_path: Path) -> None:
    first, second = make_runtime(tmp_path / "a"), make_runtime(tmp_path / "b")
    try:
        seed_directory(first, people=700, events=4, seed=3)
        seed_directory(second, people=700, events=4, seed=3)
        assert snapshot(first) == snapshot(second)
    finally:
        first.db.dispose()
        second.db.dispose()


def test_same_seed_gives_identical_rows_on_sqlite_and_postgresql(postgres_url: str, tmp_path: Path) -> None:
    on_sqlite = make_runtime(tmp_path / "a")
    on_postgres = build_runtime(Settings(database_url=postgres_url, encryption_key_file=tmp_path / "k.json"))
    try:
        seed_directory(on_sqlite, people=400, events=3, seed=8)
        seed_directory(on_postgres, people=400, events=3, seed=8)
        assert snapshot(on_sqlite) == snapshot(on_postgres)
    finally:
        on_sqlite.db.dispose()
        on_postgres.db.dispose()


def test_different_seeds_give_different_rows(tmp_path: Path) -> None:
    first, second = make_runtime(tmp_path / "a"), make_runtime(tmp_path / "b")
    try:
        seed_directory(first, people=300, events=3, seed=1)
        seed_directory(second, people=300, events=3, seed=2)
        one, two = snapshot(first), snapshot(second)
        assert one["personnel"] != two["personnel"]
        assert one["companies"] != two["companies"]
        assert one["events"] != two["events"]
    finally:
        first.db.dispose()
        second.db.dispose()


def test_chunk_size_does_not_change_the_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = make_runtime(tmp_path / "a"), make_runtime(tmp_path / "b")
    try:
        seed_directory(first, people=500, events=3, seed=5)
        monkeypatch.setattr(seeding, "CHUNK_PEOPLE", 64)
        progress: list[int] = []
        seed_directory(second, people=500, events=3, seed=5, progress=progress.append)
        assert snapshot(first) == snapshot(second)
        assert progress == [*range(64, 500, 64), 500]
    finally:
        first.db.dispose()
        second.db.dispose()


def test_summary_matches_the_tables(seeded: tuple[Runtime, SeedSummary]) -> None:
    rt, summary = seeded
    with rt.db.read() as conn:
        assert count(conn, events) == summary.events == 5
        assert count(conn, personnel) == summary.people == 2000
        assert count(conn, companies) == summary.companies == 100  # one company per 20 people
        assert count(conn, event_personnel) == summary.attendances
        channels: dict[str, int] = dict(
            conn.execute(select(contact_points.c.channel, func.count()).group_by(contact_points.c.channel)).all()
        )
    assert channels == {"email": summary.emails, "phone": summary.phones}
    assert summary.seconds > 0


def test_every_person_has_a_name_a_company_and_an_event(seeded: tuple[Runtime, SeedSummary]) -> None:
    rt, _ = seeded
    with rt.db.read() as conn:
        people = conn.execute(select(personnel)).all()
        attending = {pid for (pid,) in conn.execute(select(event_personnel.c.personnel_id).distinct())}
        company_ids = {cid for (cid,) in conn.execute(select(companies.c.id))}
    assert len(attending) == len(people)
    levels = {"C-Level", "VP", "Director", "Manager", "Senior", "Entry"}
    for person in people:
        assert re.fullmatch(r"\S+ \S+", person.full_name)
        assert person.title
        assert person.department
        assert person.seniority_level in levels
        assert person.company_id in company_ids
        assert person.linkedin_url.startswith("https://www.linkedin.com/in/")
        assert person.id >= seeding.PERSON_ID_BASE
    assert {p.seniority_level for p in people} == levels


def test_companies_have_real_looking_names_and_domains(seeded: tuple[Runtime, SeedSummary]) -> None:
    rt, _ = seeded
    with rt.db.read() as conn:
        rows = conn.execute(select(companies)).all()
    assert len({r.domain for r in rows}) == len(rows)
    for row in rows:
        assert DOMAIN.fullmatch(row.domain)
        # "Northwind Logistics" → northwindlogistics.<tld>
        assert row.domain.startswith(seeding.slug(row.name) + ".")
        assert row.industry
        assert row.country


def test_most_people_have_a_sealed_work_email_at_their_company(seeded: tuple[Runtime, SeedSummary]) -> None:
    rt, summary = seeded
    with rt.db.read() as conn:
        rows = conn.execute(
            select(
                contact_points,
                personnel.c.full_name,
                companies.c.domain,
            )
            .join(personnel, personnel.c.id == contact_points.c.personnel_id)
            .join(companies, companies.c.id == personnel.c.company_id)
        ).all()
    emails = [r for r in rows if r.channel == "email"]
    phones = [r for r in rows if r.channel == "phone"]
    # 85% and 35% of 2000 people; the binomial standard deviation is under 1.1 percentage points.
    assert 0.81 < len(emails) / summary.people < 0.89
    assert 0.31 < len(phones) / summary.people < 0.39
    addresses = set()
    for row in emails:
        email = rt.cipher.open(row.value_encrypted)
        local, _, domain = email.partition("@")
        first, last = row.full_name.lower().split(" ", 1)
        assert domain == row.domain
        assert local.startswith(f"{re.sub('[^a-z0-9-]', '', first)}.{re.sub('[^a-z0-9-]', '', last)}")
        assert row.value_hash == rt.cipher.lookup_hash("email", email)
        addresses.add(email)
    assert len(addresses) == len(emails)  # unique, even for two people of the same name at one company
    for row in phones:
        phone = rt.cipher.open(row.value_encrypted)
        assert E164.fullmatch(phone)
        assert row.value_hash == rt.cipher.lookup_hash("phone", phone)
    for row in rows:
        assert row.source == "vault"
        assert row.verification_status in {"valid", "accept_all", "unknown"}
        assert 0 <= row.verification_score <= 100
        assert row.checked_at.tzinfo is not None


def test_event_counts_match_attendance(seeded: tuple[Runtime, SeedSummary]) -> None:
    rt, _ = seeded
    with rt.db.read() as conn:
        stored = {r.id: (r.personnel_count, r.exhibitor_count) for r in conn.execute(select(events))}
        computed = {
            r.event_id: (r.people, r.exhibitors)
            for r in conn.execute(
                select(
                    event_personnel.c.event_id,
                    func.count().label("people"),
                    func.count(event_personnel.c.exhibitor_id.distinct()).label("exhibitors"),
                ).group_by(event_personnel.c.event_id)
            )
        }
        attendance = conn.execute(
            select(event_personnel, personnel.c.company_id).join(
                personnel, personnel.c.id == event_personnel.c.personnel_id
            )
        ).all()
        event_rows = conn.execute(select(events)).all()
    assert stored == computed
    for row in attendance:
        kinds = row.source_types.split(",")
        assert set(kinds) <= {"exhibitor", "social", "visitors"}
        assert kinds == sorted(kinds)
        assert (row.exhibitor_id == row.company_id) if "exhibitor" in kinds else row.exhibitor_id is None
    for event in event_rows:
        assert event.name.endswith(str(event.date_start.year))
        assert 2026 <= event.date_start.year <= 2027
        assert event.date_start <= event.date_end
        assert event.attendee_count >= event.personnel_count
        assert event.url.startswith("https://")
        assert event.nickname
        assert event.description
        assert event.topics


def test_full_text_search_finds_a_seeded_company_by_one_word(seeded: tuple[Runtime, SeedSummary]) -> None:
    rt, _ = seeded
    with rt.db.read() as conn:
        staffed = companies.c.id.in_(select(personnel.c.company_id))
        name = conn.execute(select(companies.c.name).where(staffed).order_by(companies.c.id).limit(1)).scalar_one()
        word = name.split()[0]
        if rt.db.is_sqlite:
            match = text("SELECT count(*) FROM companies_fts WHERE companies_fts MATCH :q")
            assert conn.execute(match, {"q": f'"{word}"'}).scalar_one() >= 1
            # Both external-content indexes agree with their tables.
            conn.execute(text("INSERT INTO companies_fts(companies_fts, rank) VALUES ('integrity-check', 1)"))
            conn.execute(text("INSERT INTO personnel_fts(personnel_fts, rank) VALUES ('integrity-check', 1)"))
    page = search_contacts(rt, 1, PageRequest(1, 20), company_name=word)
    assert page.total > 0
    assert all(word.lower() in (item.company_name or "").lower() for item in page.items)
    exact = search_contacts(rt, 1, PageRequest(1, 100), company_name=name)
    assert any(item.company_name == name for item in exact.items)


def test_seeding_refuses_a_directory_that_has_people(seeded: tuple[Runtime, SeedSummary]) -> None:
    rt, _ = seeded
    before = snapshot(rt)
    with pytest.raises(DirectoryNotEmpty, match="empty database"):
        seed_directory(rt, people=10, events=1, seed=99)
    assert snapshot(rt) == before
