"""Directory use cases: events, people at an event, a person, contact search (all free, read-only)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum, auto
from typing import Any, Generic, TypeVar

from contactvault.server.db import directory as q
from contactvault.server.db.engine import Transaction
from contactvault.server.db.unlocks import ChannelState, contact_states
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.tasks import UNFINISHED_ITEM_STATUSES, ItemStatus
from contactvault.server.runtime import Runtime
from contactvault.server.services import sealed
from contactvault.server.services.unlocks import VerificationView

PageRequest = q.PageRequest
SOURCE_ORDER = ("exhibitor", "social", "visitors")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of ``total`` matches: ``page`` (1-based) of ``size`` items each."""

    items: Sequence[T]
    total: int
    page: int
    size: int

    @property
    def total_pages(self) -> int:
        return (self.total + self.size - 1) // self.size

    @property
    def has_more(self) -> bool:
        return self.page < self.total_pages


def page_of(items: Sequence[T], total: int, page: PageRequest) -> Page[T]:
    """The page ``page`` asked for, holding ``items`` of ``total`` matches."""
    return Page(items, total, page.page, page.size)


@dataclass(frozen=True, slots=True)
class EventView:
    """An event of the directory."""

    event_id: int
    name: str
    nickname: str | None
    description: str | None
    url: str | None
    date_start: date | None
    date_end: date | None
    venue: str | None
    city: str | None
    region: str | None
    country: str | None
    exhibitor_count: int
    image: str | None
    data_source: str | None


@dataclass(frozen=True, slots=True)
class EventDetailView:
    """An event in full."""

    event: EventView
    attendee_count: int | None
    personnel_count: int
    event_type: str | None
    topics: list[str]


class ContactState(Enum):
    """Where one channel of a person stands for one account (its own unlocks only)."""

    LOCKED = auto()
    UNLOCKING = auto()
    UNLOCKED = auto()  # paid for once, never charged again, even when the value was later erased
    FAILED = auto()


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a revealed value came from (``source``: the import's label, ``pattern`` when inferred, a provider's
    name; None on unlocks older than the column) and how sure we were of it when it was delivered."""

    source: str | None
    verification: VerificationView | None


@dataclass(frozen=True, slots=True)
class PersonView:
    """A person as one account sees them; ``email``/``phone`` only while revealed, ``unreadable`` when a revealed
    value opens with no configured key."""

    personnel_id: int
    full_name: str
    title: str | None
    department: str | None
    seniority_level: str | None
    linkedin_url: str | None
    company_name: str | None
    source_types: list[str]
    email: str | None
    email_state: ContactState
    phone: str | None
    phone_state: ContactState
    event_count: int
    unreadable: bool = False
    # Only while the value itself is shown (None with a null ``email``/``phone``).
    email_provenance: Provenance | None = None
    phone_provenance: Provenance | None = None


def event_view(row: dict[str, Any]) -> EventView:
    """An EventView from an events row."""
    return EventView(
        event_id=row["id"],
        name=row["name"],
        nickname=row["nickname"],
        description=row["description"],
        url=row["url"],
        date_start=row["date_start"],
        date_end=row["date_end"],
        venue=row["venue"],
        city=row["city"],
        region=row["region"],
        country=row["country"],
        exhibitor_count=row["exhibitor_count"],
        image=row["image"],
        data_source=row["data_source"],
    )


def list_events(
    rt: Runtime,
    page: PageRequest,
    *,
    keyword: str | None = None,
    country: str | None = None,
    city: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Page[EventView]:
    """A page of events matching the filters."""
    rows_q, count_q = q.event_query(keyword, country, city, date_from, date_to)
    with rt.db.read() as conn:
        rows, total = q.paged(conn, q.PageQuery(rows_q, count_q), page)
    return page_of([event_view(dict(r._mapping)) for r in rows], total, page)


def get_event(rt: Runtime, event_id: int) -> EventDetailView:
    """One event in full."""
    with rt.db.read() as conn:
        row = q.event_by_id(conn, event_id)
    if row is None:
        raise NotFound(f"Event {event_id} not found.")
    return EventDetailView(
        event=event_view(row),
        attendee_count=row["attendee_count"],
        personnel_count=row["personnel_count"],
        event_type=row["event_type"],
        topics=json.loads(row["topics"]) if row["topics"] else [],
    )


def _state(state: ChannelState | None) -> ContactState:
    if state is None:
        return ContactState.LOCKED
    if state.unlocked:
        # Paid for once, never charged again, even when the value was later erased (then shown as null).
        return ContactState.UNLOCKED
    if state.statuses & {s.value for s in UNFINISHED_ITEM_STATUSES}:
        return ContactState.UNLOCKING
    if ItemStatus.FAILED.value in state.statuses:
        return ContactState.FAILED
    return ContactState.LOCKED


def contact_items(
    rt: Runtime,
    conn: Transaction,
    account_id: int,
    rows: Sequence[Any],
    sources: dict[int, set[str]] | None = None,
) -> list[PersonView]:
    """These people as this account sees them (its own unlocks only)."""
    ids = [int(r.id) for r in rows]
    states = contact_states(conn, account_id, ids)
    attendance = q.attendance_of(conn, ids)
    shown = sealed.show(
        rt,
        conn,
        [
            sealed.Sealed(s.unlock_id, pid, channel, s.value_encrypted)
            for (pid, channel), s in states.items()
            if s.value_encrypted is not None and s.unlock_id is not None
        ],
    )
    items = []
    for row in rows:
        pid = int(row.id)
        email_state = states.get((pid, "email"))
        phone_state = states.get((pid, "phone"))
        count, all_sources = attendance.get(pid, (0, set()))
        kinds = sources.get(pid, all_sources) if sources is not None else all_sources
        email, phone = _shown(shown, email_state), _shown(shown, phone_state)
        items.append(
            PersonView(
                personnel_id=pid,
                full_name=row.full_name,
                title=row.title,
                department=row.department,
                seniority_level=row.seniority_level,
                linkedin_url=row.linkedin_url,
                company_name=row.company_name,
                source_types=[s for s in SOURCE_ORDER if s in kinds],
                email=email.value,
                email_state=_state(email_state),
                phone=phone.value,
                phone_state=_state(phone_state),
                event_count=count,
                unreadable=email.unreadable or phone.unreadable,
                email_provenance=_provenance(email_state) if email.value is not None else None,
                phone_provenance=_provenance(phone_state) if phone.value is not None else None,
            )
        )
    return items


def _provenance(state: ChannelState | None) -> Provenance | None:
    if state is None:
        return None
    verification = None
    if state.verification_status is not None:
        verification = VerificationView(state.verification_status, state.verification_score, state.checked_at)
    return Provenance(state.source, verification)


def _shown(shown: dict[int, sealed.Shown], state: ChannelState | None) -> sealed.Shown:
    if state is None or state.unlock_id is None:
        return sealed.Shown(None)
    return shown.get(state.unlock_id, sealed.Shown(None))


@dataclass(frozen=True, slots=True)
class PeopleFilters:
    """What narrows the people of an event; ``hide_unlocked`` leaves out those the account unlocked (email)."""

    exhibitor_id: int | None = None
    department: str | None = None
    level: str | None = None
    search_query: str | None = None
    company: str | None = None
    hide_unlocked: bool = False


def _people_queries(conn: Transaction, account_id: int, event_id: int, filters: PeopleFilters) -> q.PageQuery | None:
    event = q.event_by_id(conn, event_id)
    if event is None:
        raise NotFound(f"Event {event_id} not found.")
    return q.event_people_query(
        conn,
        event_id,
        filters.exhibitor_id,
        filters.department,
        filters.level,
        filters.search_query,
        company=filters.company,
        hide_unlocked=(account_id, Channel.EMAIL.value) if filters.hide_unlocked else None,
        personnel_count=int(event["personnel_count"]),
    )


def list_personnel(
    rt: Runtime,
    account_id: int,
    event_id: int,
    page: PageRequest,
    *,
    exhibitor_id: int | None = None,
    department: str | None = None,
    level: str | None = None,
    search_query: str | None = None,
    company: str | None = None,
    hide_unlocked: bool = False,
) -> Page[PersonView]:
    """A page of the people at an event (every one visible: the wire's ``semantics`` block is api's)."""
    filters = PeopleFilters(exhibitor_id, department, level, search_query, company, hide_unlocked)
    with rt.db.read() as conn:
        queries = _people_queries(conn, account_id, event_id, filters)
        rows, total = q.paged(conn, queries, page) if queries else ([], 0)
        sources = {int(r.id): set(r.source_types.split(",")) for r in rows}
        items = contact_items(rt, conn, account_id, rows, sources)
    return page_of(items, total, page)


@dataclass(frozen=True, slots=True)
class Matching:
    """How many people match, and their ids in list order (at most the ``limit`` asked for)."""

    total: int
    ids: list[int]


def matching_ids(rt: Runtime, account_id: int, event_id: int, filters: PeopleFilters, *, limit: int) -> Matching:
    """The ids of the people matching ``filters`` (the first ``limit``) and how many match in all."""
    with rt.db.read() as conn:
        queries = _people_queries(conn, account_id, event_id, filters)
        if queries is None:
            return Matching(0, [])
        rows, total = q.paged(conn, queries, PageRequest(1, limit))
    return Matching(total, [int(r.id) for r in rows])


def profile(rt: Runtime, account_id: int, person_id: int) -> PersonView:
    """One person as this account sees them."""
    with rt.db.read() as conn:
        row = q.person_by_id(conn, person_id)
        if row is None:
            raise NotFound(f"Personnel {person_id} not found.")
        return contact_items(rt, conn, account_id, [row])[0]


def search_contacts(
    rt: Runtime,
    account_id: int,
    page: PageRequest,
    *,
    company_name: str,
    role: str | None = None,
    person_name: str | None = None,
) -> Page[PersonView]:
    """A page of people at companies matching ``company_name`` across all events."""
    with rt.db.read() as conn:
        queries = q.contact_search_query(conn, company_name, role, person_name)
        rows, total = q.paged(conn, queries, page) if queries else ([], 0)
        items = contact_items(rt, conn, account_id, rows)
    return page_of(items, total, page)
