"""Directory use cases: events, people at an event, a person, contact search (all free, read-only)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from contactvault.server.db import directory as q
from contactvault.server.db.engine import Transaction
from contactvault.server.db.unlocks import ChannelState, contact_states
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.tasks import UNFINISHED_ITEM_STATUSES, ItemStatus
from contactvault.server.runtime import Runtime
from contactvault.server.services import sealed

PageRequest = q.PageRequest
SOURCE_ORDER = ("exhibitor", "social", "visitors")


def page_of(items: list[dict[str, Any]], total: int, page: PageRequest) -> dict[str, Any]:
    """The contract's page object."""
    total_pages = (total + page.size - 1) // page.size
    return {
        "items": items,
        "total": total,
        "page": page.page,
        "pageSize": page.size,
        "totalPages": total_pages,
        "hasMore": page.page < total_pages,
    }


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def event_item(row: dict[str, Any]) -> dict[str, Any]:
    """An EventItem from an events row."""
    return {
        "id": str(row["id"]),
        "eventId": str(row["id"]),
        "name": row["name"],
        "nickname": row["nickname"],
        "description": row["description"],
        "url": row["url"],
        "dateStart": _iso(row["date_start"]),
        "dateEnd": _iso(row["date_end"]),
        "venue": row["venue"],
        "city": row["city"],
        "region": row["region"],
        "country": row["country"],
        "exhibitorCount": row["exhibitor_count"],
        "image": row["image"],
        "dataSource": row["data_source"],
        "hasVisitors": False,
        "sponsorMatchStarred": 0,
    }


def list_events(
    rt: Runtime,
    page: PageRequest,
    *,
    keyword: str | None = None,
    country: str | None = None,
    city: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, Any]:
    """A page of events matching the filters."""
    rows_q, count_q = q.event_query(keyword, country, city, date_from, date_to)
    with rt.db.read() as conn:
        rows, total = q.paged(conn, rows_q, count_q, page)
    return page_of([event_item(dict(r._mapping)) for r in rows], total, page)


def get_event(rt: Runtime, event_id: int) -> dict[str, Any]:
    """One EventDetail."""
    with rt.db.read() as conn:
        row = q.event_by_id(conn, event_id)
    if row is None:
        raise NotFound(f"Event {event_id} not found.")
    detail = event_item(row)
    detail.update(
        {
            "attendeeCount": row["attendee_count"],
            "personnelCount": row["personnel_count"],
            "eventType": row["event_type"],
            "topics": json.loads(row["topics"]) if row["topics"] else [],
        }
    )
    return detail


def _status(state: ChannelState | None, *, phone: bool) -> str | None:
    if state is None:
        return None if phone else "locked"
    if state.unlocked:
        # Paid for once, never charged again, even when the value was later erased (then shown as null).
        return "ready" if phone else "unlocked"
    if state.statuses & {s.value for s in UNFINISHED_ITEM_STATUSES}:
        return "processing" if phone else "unlocking"
    if ItemStatus.FAILED.value in state.statuses:
        return "failed"
    return None if phone else "locked"


def contact_items(
    rt: Runtime,
    conn: Transaction,
    account_id: int,
    rows: Sequence[Any],
    sources: dict[int, set[str]] | None = None,
) -> list[dict[str, Any]]:
    """ContactItems as this account sees them (its own unlocks only)."""
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
        item: dict[str, Any] = {
            "id": str(pid),
            "fullName": row.full_name,
            "title": row.title,
            "department": row.department,
            "seniorityLevel": row.seniority_level,
            "linkedinUrl": row.linkedin_url,
            "companyName": row.company_name,
            "sourceType": [s for s in SOURCE_ORDER if s in kinds],
            "email": email.value,
            "contactUnlockStatus": _status(email_state, phone=False),
            "phone": phone.value,
            "phoneUnlockStatus": _status(phone_state, phone=True),
            "eventCount": count,
            "linkedinActivity": None,
            "linkedinActivityStatus": None,
            "outreachMessageStatus": None,
            "outreachMessageChannels": [],
        }
        if email.unreadable or phone.unreadable:
            # Extension: one of this person's revealed values opens with no configured key (see docs/api.md).
            item["errorCode"] = sealed.UNREADABLE
        items.append(item)
    return items


def _shown(shown: dict[int, sealed.Shown], state: ChannelState | None) -> sealed.Shown:
    if state is None or state.unlock_id is None:
        return sealed.Shown(None)
    return shown.get(state.unlock_id, sealed.Shown(None))


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
) -> dict[str, Any]:
    """A page of the people at an event, with the contract's ``semantics`` block."""
    with rt.db.read() as conn:
        if q.event_by_id(conn, event_id) is None:
            raise NotFound(f"Event {event_id} not found.")
        queries = q.event_people_query(conn, event_id, exhibitor_id, department, level, search_query)
        rows, total = q.paged(conn, *queries, page) if queries else ([], 0)
        sources = {int(r.id): set(r.source_types.split(",")) for r in rows}
        items = contact_items(rt, conn, account_id, rows, sources)
    result = page_of(items, total, page)
    result["semantics"] = {
        "accessMode": "full",
        "previewLimit": None,
        "counts": {"actualTotal": total, "visibleTotal": total, "remainingLockedCount": 0},
    }
    return result


def profile(rt: Runtime, account_id: int, person_id: int) -> dict[str, Any]:
    """One ContactItem."""
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
) -> dict[str, Any]:
    """A page of people at companies matching ``company_name`` across all events."""
    with rt.db.read() as conn:
        queries = q.contact_search_query(conn, company_name, role, person_name)
        rows, total = q.paged(conn, *queries, page) if queries else ([], 0)
        items = contact_items(rt, conn, account_id, rows)
    return page_of(items, total, page)
