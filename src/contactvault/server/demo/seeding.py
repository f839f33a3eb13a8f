"""A deterministic, realistic synthetic directory: events, exhibiting companies, people, attendance, vault.

Same ``seed`` → the same rows (Fernet ciphertexts differ, since every seal draws a fresh IV; the plaintexts
and their lookup hashes do not). Rows are generated and written in chunks, each chunk in its own write
transaction, so memory stays bounded whatever the size (except one small integer per work email, kept to make
addresses unique per company: about 60 MB at a million people). An interrupted run leaves a partial directory,
which the next run refuses: it seeds empty directories only, so ids and contents never depend on what was there.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contactvault.server.db import seeding as store
from contactvault.server.db.engine import Transaction
from contactvault.server.demo import names as nb
from contactvault.server.domain.errors import InvalidRequest, StateConflict
from contactvault.server.runtime import Runtime

# Ids look like real ones and never overlap between kinds, which makes mix-ups visible in tests and logs.
EVENT_ID_BASE = 100
COMPANY_ID_BASE = 10_000
PERSON_ID_BASE = 1_000_000
CHUNK_PEOPLE = 20_000
PEOPLE_PER_COMPANY = 20
EMAIL_SHARE = 0.85
PHONE_SHARE = 0.35
# Verification results are dated before the earliest event, so a seeded run never depends on the clock.
CHECKED_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
FIRST_EVENT_DAY = date(2026, 1, 12)
LAST_EVENT_DAY = date(2027, 12, 10)

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_NOT_LOCAL = re.compile(r"[^a-z0-9-]+")


class DirectoryNotEmpty(StateConflict):
    """Seeding only fills an empty directory."""


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What a seeding run wrote, and how long it took."""

    events: int
    companies: int
    people: int
    attendances: int
    emails: int
    phones: int
    seconds: float


@dataclass(slots=True)
class _Company:
    id: int
    domain: str
    phone_prefix: str
    exhibits: tuple[int, ...]  # indexes into the event list


@dataclass(slots=True)
class _Tally:
    attendances: int = 0
    emails: int = 0
    phones: int = 0
    people_at: list[int] = field(default_factory=list)  # per event index
    exhibitors_at: list[set[int]] = field(default_factory=list)


def slug(text: str) -> str:
    """Lower-case letters and digits only: ``"Northwind Logistics"`` → ``"northwindlogistics"``."""
    return _NOT_SLUG.sub("", text.lower())


def seed_directory(
    rt: Runtime,
    *,
    people: int = 5000,
    events: int = 20,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> SeedSummary:
    """Fill an empty directory with ``people`` people at ``events`` events; same seed, same rows."""
    if people < 1 or events < 1:
        raise InvalidRequest("people and events must be at least 1.", {"field": "people" if people < 1 else "events"})
    started = time.perf_counter()
    rng = random.Random(seed)
    event_rows = _event_rows(rng, events)
    company_rows, company_list = _companies(rng, max(1, round(people / PEOPLE_PER_COMPANY)), events)
    company_cum = list(itertools.accumulate(rng.lognormvariate(0.0, 1.2) for _ in company_list))
    tally = _Tally(people_at=[0] * events, exhibitors_at=[set() for _ in range(events)])
    people_gen = _PeopleGenerator(rng, rt, company_list, company_cum, _event_weights(events), tally)

    with store.seeding_connection(rt.db) as conn:
        with conn.begin():
            _refuse_unless_empty(conn)
            store.insert_events(conn, event_rows)
            for batch in _batched(company_rows, CHUNK_PEOPLE):
                store.insert_companies(conn, batch)
        done = 0
        while done < people:
            size = min(CHUNK_PEOPLE, people - done)
            person_rows, attendance_rows, contact_rows = people_gen.chunk(PERSON_ID_BASE + done, size)
            with conn.begin():
                store.insert_people(conn, person_rows)
                store.insert_attendances(conn, attendance_rows)
                store.insert_contact_points(conn, contact_rows)
            done += size
            if progress is not None:
                progress(done)
        with conn.begin():
            store.set_event_counts(conn, _event_counts(event_rows, tally))
            store.tidy_search_indexes(conn)

    return SeedSummary(
        events=events,
        companies=len(company_list),
        people=people,
        attendances=tally.attendances,
        emails=tally.emails,
        phones=tally.phones,
        seconds=time.perf_counter() - started,
    )


# ---------------------------------------------------------------------------------------------- transactions


def _refuse_unless_empty(conn: Transaction) -> None:
    for table, count in store.directory_sizes(conn):
        if count:
            raise DirectoryNotEmpty(
                f"The directory already has {count} {table}; seeding fills an empty database only.",
                {"table": table, "rows": count},
            )


def _batched(rows: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _event_counts(event_rows: list[dict[str, Any]], tally: _Tally) -> list[tuple[int, int, int, int]]:
    """Per event: ``(id, personnel_count, exhibitor_count, attendee_count)``."""
    return [
        (
            row["id"],
            tally.people_at[index],
            len(tally.exhibitors_at[index]),
            # Not everyone at a show is in the directory: the claimed attendance is a multiple of it.
            round(tally.people_at[index] * row["attendee_count"] / 100),
        )
        for index, row in enumerate(event_rows)
    ]


# ---------------------------------------------------------------------------------------------- events


def _event_rows(rng: random.Random, count: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    names: set[str] = set()
    span = (LAST_EVENT_DAY - FIRST_EVENT_DAY).days
    while len(rows) < count:
        city, region, country, venue, _prefix, _tld = rng.choice(nb.CITIES)
        industry = rng.choice(tuple(nb.INDUSTRY_SUFFIXES))
        kind, event_type = rng.choice(nb.EVENT_KINDS)
        start = FIRST_EVENT_DAY + timedelta(days=rng.randrange(span))
        end = start + timedelta(days=rng.choice((0, 1, 2, 2, 3)))
        name = f"{city} {industry} {kind} {start.year}"
        multiplier = rng.randrange(150, 400)  # percent; turned into attendee_count once people are known
        topics = rng.sample(nb.INDUSTRY_TOPICS[industry], 3)
        if name in names:
            continue
        names.add(name)
        site = slug(f"{city}{industry}{kind}")
        initials = "".join(w[0] for w in f"{city} {industry} {kind}".replace("&", " ").split()).upper()
        rows.append(
            {
                "id": EVENT_ID_BASE + len(rows) + 1,
                "name": name,
                "nickname": f"{initials}{start.year % 100}",
                "description": (
                    f"{city}'s meeting place for the {industry.lower()} industry: exhibitors, buyers and "
                    f"talks on {topics[0]}, {topics[1]} and {topics[2]}."
                ),
                "url": f"https://www.{site}.com",
                "date_start": start,
                "date_end": end,
                "venue": venue,
                "city": city,
                "region": region,
                "country": country,
                "image": f"https://www.{site}.com/assets/banner.jpg",
                "data_source": "seed",
                "event_type": event_type,
                "topics": json.dumps(topics),
                "attendee_count": multiplier,
            }
        )
    return rows


def _event_weights(count: int) -> list[float]:
    # A few big shows and a long tail, like real trade-show calendars; the first event is the largest.
    return list(itertools.accumulate(1.0 / (i + 1) ** 0.8 for i in range(count)))


# ---------------------------------------------------------------------------------------------- companies


def _companies(rng: random.Random, count: int, event_count: int) -> tuple[list[dict[str, Any]], list[_Company]]:
    rows: list[dict[str, Any]] = []
    listed: list[_Company] = []
    taken: set[str] = set()
    industries = tuple(nb.INDUSTRY_SUFFIXES)
    event_cum = _event_weights(event_count)
    event_indexes = range(event_count)
    while len(rows) < count:
        industry = rng.choice(industries)
        city = rng.choice(nb.CITIES)
        name = _company_name(rng, industry, len(rows) + 1)
        domain = slug(name) + city[5]
        if domain in taken:
            continue
        taken.add(domain)
        roll = rng.random()
        picks = rng.choices(event_indexes, cum_weights=event_cum, k=1 + (roll > 0.6) + (roll > 0.9))
        company_id = COMPANY_ID_BASE + len(rows) + 1
        rows.append({"id": company_id, "name": name, "domain": domain, "industry": industry, "country": city[2]})
        listed.append(_Company(company_id, domain, city[4], tuple(sorted(set(picks)))))
    return rows, listed


def _company_name(rng: random.Random, industry: str, serial: int) -> str:
    suffix = rng.choice(nb.INDUSTRY_SUFFIXES[industry])
    roll = rng.random()
    if roll < 0.55:
        name = f"{rng.choice(nb.COMPANY_WORDS)} {suffix}"
    elif roll < 0.85:
        name = f"{rng.choice(nb.LAST_NAMES)} {suffix}"
    elif roll < 0.95:
        name = f"{rng.choice(nb.LAST_NAMES)} & {rng.choice(nb.LAST_NAMES)}"
    else:
        name = f"{rng.choice(nb.COMPANY_WORDS)} {suffix} {rng.choice(('Group', 'International', 'Holdings'))}"
    # Past a few hundred thousand companies the word lists run out of fresh pairs; a number keeps it unique.
    return name if serial < 200_000 else f"{name} {serial}"


# ---------------------------------------------------------------------------------------------- people


def _titles() -> dict[tuple[str, str], tuple[str, ...]]:
    table: dict[tuple[str, str], tuple[str, ...]] = {}
    for department, (chief, function, role) in nb.DEPARTMENT_ROLES.items():
        table["C-Level", department] = (chief,)
        table["VP", department] = (f"VP of {function}", f"Vice President, {function}", f"SVP {function}")
        table["Director", department] = (
            f"Director of {function}",
            f"{function} Director",
            f"Head of {function}",
        )
        table["Manager", department] = (f"{function} Manager", f"{function} Team Lead")
        table["Senior", department] = (f"Senior {role}", f"Lead {role}")
        table["Entry", department] = (role, f"Associate {role}", f"Junior {role}")
    return table


class _PeopleGenerator:
    """Draws people chunk by chunk from one random stream (so chunk size never changes the data)."""

    def __init__(
        self,
        rng: random.Random,
        rt: Runtime,
        company_list: list[_Company],
        company_cum: list[float],
        event_cum: list[float],
        tally: _Tally,
    ) -> None:
        self.rng = rng
        # Companies and levels are drawn a chunk at a time, each from its own stream, so that where a chunk
        # ends never shifts what the main stream draws next.
        self.company_rng = random.Random(rng.getrandbits(64))
        self.level_rng = random.Random(rng.getrandbits(64))
        self.seal = rt.cipher.seal
        self.lookup_hash = rt.cipher.lookup_hash
        self.companies = company_list
        self.company_cum = company_cum
        self.event_cum = event_cum
        self.tally = tally
        self.titles = _titles()
        self.levels = [level for level, _ in nb.SENIORITY]
        self.level_cum = list(itertools.accumulate(share for _, share in nb.SENIORITY))
        self.first_locals = [_NOT_LOCAL.sub("", n.lower()) for n in nb.FIRST_NAMES]
        self.last_locals = [_NOT_LOCAL.sub("", n.lower()) for n in nb.LAST_NAMES]
        self.link_firsts = [slug(n) for n in nb.FIRST_NAMES]
        self.link_lasts = [slug(n) for n in nb.LAST_NAMES]
        # Work emails must be unique per company: (company, first, last) already used, as one int each.
        self.used_addresses: set[int] = set()
        self.repeats: dict[int, int] = {}

    def chunk(
        self, first_id: int, size: int
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Rows for people ``first_id`` .. ``first_id + size - 1``: personnel, attendance, contact points."""
        rng = self.rng
        n_first, n_last = len(nb.FIRST_NAMES), len(nb.LAST_NAMES)
        company_picks = self.company_rng.choices(range(len(self.companies)), cum_weights=self.company_cum, k=size)
        level_picks = self.level_rng.choices(self.levels, cum_weights=self.level_cum, k=size)
        people: list[tuple[Any, ...]] = []
        attendance: list[tuple[Any, ...]] = []
        contacts: list[tuple[Any, ...]] = []
        for offset in range(size):
            person_id = first_id + offset
            company_index = company_picks[offset]
            company = self.companies[company_index]
            fi, li = int(rng.random() * n_first), int(rng.random() * n_last)
            department = rng.choice(nb.DEPARTMENTS)
            level = level_picks[offset]
            link = f"{self.link_firsts[fi]}-{self.link_lasts[li]}-{rng.getrandbits(24):06x}"
            people.append(
                (
                    person_id,
                    f"{nb.FIRST_NAMES[fi]} {nb.LAST_NAMES[li]}",
                    rng.choice(self.titles[level, department]),
                    department,
                    level,
                    f"https://www.linkedin.com/in/{link}",
                    company.id,
                )
            )
            self._attend(person_id, company, attendance)
            if rng.random() < EMAIL_SHARE:
                key = (company_index * n_first + fi) * n_last + li
                email = f"{self._local_part(key, fi, li)}@{company.domain}"
                contacts.append(self._contact(person_id, "email", email))
                self.tally.emails += 1
            if rng.random() < PHONE_SHARE:
                contacts.append(self._contact(person_id, "phone", self._phone(company.phone_prefix)))
                self.tally.phones += 1
        return people, attendance, contacts

    def _attend(self, person_id: int, company: _Company, rows: list[tuple[Any, ...]]) -> None:
        rng = self.rng
        roll = rng.random()
        wanted = 1 + (roll > 0.70) + (roll > 0.92)
        chosen: list[int] = []
        if company.exhibits and rng.random() < 0.6:
            chosen.append(rng.choice(company.exhibits))
        for pick in rng.choices(range(len(self.event_cum)), cum_weights=self.event_cum, k=wanted):
            if len(chosen) < wanted and pick not in chosen:
                chosen.append(pick)
        for event_index in sorted(chosen):
            if event_index in company.exhibits:
                sources = "exhibitor,social" if rng.random() < 0.15 else "exhibitor"
                exhibitor_id: int | None = company.id
                self.tally.exhibitors_at[event_index].add(company.id)
            else:
                roll = rng.random()
                sources = "visitors" if roll < 0.7 else "social" if roll < 0.9 else "social,visitors"
                exhibitor_id = None
            rows.append((EVENT_ID_BASE + event_index + 1, person_id, sources, exhibitor_id))
            self.tally.people_at[event_index] += 1
            self.tally.attendances += 1

    def _local_part(self, key: int, fi: int, li: int) -> str:
        base = f"{self.first_locals[fi]}.{self.last_locals[li]}"
        if key not in self.used_addresses:
            self.used_addresses.add(key)
            return base
        # A second John Smith at the same company gets john.smith2, like a real mail admin would do.
        seen = self.repeats.get(key, 1) + 1
        self.repeats[key] = seen
        return f"{base}{seen}"

    def _phone(self, prefix: str) -> str:
        if prefix == "+1":
            return f"+1{self.rng.randrange(201, 990)}{self.rng.randrange(2_000_000, 10_000_000)}"
        return f"{prefix}{self.rng.randrange(100_000_000, 1_000_000_000)}"

    def _contact(self, person_id: int, channel: str, value: str) -> tuple[Any, ...]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.7:
            status, score = "valid", rng.randint(85, 100)
        elif roll < 0.9:
            status, score = "accept_all", rng.randint(50, 84)
        else:
            status, score = "unknown", rng.randint(10, 49)
        checked = CHECKED_BEFORE - timedelta(seconds=rng.randrange(180 * 86_400))
        return (
            person_id,
            channel,
            self.seal(value),
            self.lookup_hash(channel, value),
            "vault",
            status,
            score,
            checked,
        )
