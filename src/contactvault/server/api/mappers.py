"""Typed results of the services, mapped to the wire shapes that ``api/schemas.py`` and ``precheck_schemas.py``
declare: each shape is built here and nowhere else.

They build plain dicts, key by key in the order the wire has always had (the bytes of a reply, and of an
idempotent replay stored before a deploy, must not change); the recorder of tests/api validates every reply
against the published schemas.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from contactvault.server.domain.tasks import ItemStatus
from contactvault.server.services import sealed
from contactvault.server.services.credits import Balance
from contactvault.server.services.directory import ContactState, EventDetailView, EventView, Page, PersonView
from contactvault.server.services.ledger_view import LedgerEntry, LedgerHistory
from contactvault.server.services.quotes import Quote
from contactvault.server.services.unlocked_contacts import ErasedView, RemovalReason, UnlockedView
from contactvault.server.services.unlocks import ItemView, PrecheckResult, SubmitResult, TaskView, VerificationView

CREATED = 201
T = TypeVar("T")
# A channel's state as ContactItem spells it: ``contactUnlockStatus`` (email) and ``phoneUnlockStatus`` (phone).
EMAIL_STATUS = {
    ContactState.LOCKED: "locked",
    ContactState.UNLOCKING: "unlocking",
    ContactState.UNLOCKED: "unlocked",
    ContactState.FAILED: "failed",
}
PHONE_STATUS = {
    ContactState.LOCKED: None,
    ContactState.UNLOCKING: "processing",
    ContactState.UNLOCKED: "ready",
    ContactState.FAILED: "failed",
}
REMOVAL_REASON = {RemovalReason.ERASED: "erased", RemovalReason.OPTED_OUT: "opted_out"}


def iso(moment: datetime | None) -> str | None:
    """A timestamp as the wire writes it (UTC, ``Z``)."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def epoch_ms(moment: datetime | None) -> int | None:
    """A timestamp as the balance writes it (milliseconds since the epoch)."""
    return None if moment is None else int(moment.timestamp() * 1000)


def credit_balance(b: Balance) -> dict[str, Any]:
    """GET /external/credits/balance (CreditBalance)."""
    return {
        "totalAmount": b.total_amount,
        "totalBalance": b.total_balance,
        "subscriptionAmount": b.subscription_amount,
        "subscriptionBalance": b.subscription_balance,
        "addonAmount": b.addon_amount,
        "addonBalance": b.addon_balance,
        "addonExpireAt": epoch_ms(b.addon_expire_at),
        "giftAmount": b.gift_amount,
        "giftBalance": b.gift_balance,
        "resetAt": epoch_ms(b.reset_at),
        "reservedBalance": b.reserved,
    }


def submission(result: SubmitResult) -> dict[str, Any]:
    """201 of an unlock submission (snake_case)."""
    skipped = {
        "skipped_personnel_ids": result.skipped,
        "skipped_detail": result.classification.skipped_detail(),
    }
    if result.task_id is None:
        return {"status": "success", **skipped}
    return {"status": "accepted", "task_id": str(result.task_id), "job_id": str(result.task_id), **skipped}


def submission_reply(result: SubmitResult) -> tuple[int, dict[str, Any]]:
    """The status and body of a submission's reply (what an idempotency key stores)."""
    return CREATED, submission(result)


def precheck_detail(result: PrecheckResult) -> dict[str, Any]:
    """The ``detail`` of an unlock precheck."""
    c = result.classification
    if c is None:
        return {"requested_count": result.requested_count}
    return {
        "requested_count": result.requested_count,
        "chargeable_count": len(c.chargeable),
        "already_unlocked_count": len(c.already_unlocked),
        "unlocking_count": len(c.unlocking),
        "personnel_ids": c.chargeable,
        "missing_personnel_ids": c.missing,
        "invalid_personnel_ids": c.invalid,
        "unlinked_personnel_ids": c.unlinked,
        "available_balance": result.available_balance,
        "unit_cost": result.unit_cost,
    }


def quote(q: Quote | None) -> dict[str, Any]:
    """The fields a precheck with ``create_quote`` adds: none when no quote was made."""
    if q is None:
        return {}
    return {"quote_id": str(q.quote_id), "expires_at": iso_utc(q.expires_at)}


def task(view: TaskView) -> dict[str, Any]:
    """GET /external/contacts/unlock-tasks/{taskId} (and the phone twin)."""
    field = view.channel.value
    counts = {s.value: 0 for s in ItemStatus}
    for i in view.items:
        counts[i.status] += 1
    return {
        "taskId": str(view.task_id),
        "taskStatus": view.status,
        "items": [task_item(i, field) for i in view.items],
        "counts": counts,
        "creditsHeld": view.credits_held,
        "creditsCharged": view.credits_charged,
        "creditsReleased": view.credits_released,
        "createdAt": iso(view.created_at),
        "completedAt": iso(view.completed_at),
    }


def task_item(i: ItemView, field: str) -> dict[str, Any]:
    """One item of a task; ``field`` is ``email`` or ``phone``."""
    item: dict[str, Any] = {"personnelId": str(i.personnel_id), "status": i.status}
    if i.unreadable:
        # Delivered and charged, but no configured key opens it: an unlocked item with an error code.
        item["errorCode"] = sealed.UNREADABLE
    if i.value is not None:
        item[field] = i.value
        v = i.verification
        item["verification"] = {
            "status": (v and v.status) or "unknown",
            "score": v.score if v is not None and v.score is not None else 0,
            "checkedAt": iso(None if v is None else v.checked_at),
        }
    if i.status == ItemStatus.FAILED:
        item["errorCode"] = i.error_code
    item["creditsCharged"] = i.credits_charged
    if i.source:
        item["source"] = i.source
    if i.completed_at:
        item["completedAt"] = iso(i.completed_at)
    return item


def page(p: Page[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """The contract's page object, each item mapped by ``item``."""
    return {
        "items": [item(i) for i in p.items],
        "total": p.total,
        "page": p.page,
        "pageSize": p.size,
        "totalPages": p.total_pages,
        "hasMore": p.has_more,
    }


def day(value: date | None) -> str | None:
    """A calendar day as the wire writes it (YYYY-MM-DD)."""
    return None if value is None else value.isoformat()


def event_item(e: EventView) -> dict[str, Any]:
    """EventItem."""
    return {
        "id": str(e.event_id),
        "eventId": str(e.event_id),
        "name": e.name,
        "nickname": e.nickname,
        "description": e.description,
        "url": e.url,
        "dateStart": day(e.date_start),
        "dateEnd": day(e.date_end),
        "venue": e.venue,
        "city": e.city,
        "region": e.region,
        "country": e.country,
        "exhibitorCount": e.exhibitor_count,
        "image": e.image,
        "dataSource": e.data_source,
        "hasVisitors": False,
        "sponsorMatchStarred": 0,
    }


def event_page(p: Page[EventView]) -> dict[str, Any]:
    """GET /external/events/list."""
    return page(p, event_item)


def event_detail(d: EventDetailView) -> dict[str, Any]:
    """GET /external/events/{id}: the EventDetail in its envelope."""
    detail = event_item(d.event)
    detail["attendeeCount"] = d.attendee_count
    detail["personnelCount"] = d.personnel_count
    detail["eventType"] = d.event_type
    detail["topics"] = d.topics
    return {"event": detail}


def contact_item(p: PersonView) -> dict[str, Any]:
    """ContactItem (GET /external/personnel/profile, and the items of the people lists)."""
    item: dict[str, Any] = {
        "id": str(p.personnel_id),
        "fullName": p.full_name,
        "title": p.title,
        "department": p.department,
        "seniorityLevel": p.seniority_level,
        "linkedinUrl": p.linkedin_url,
        "companyName": p.company_name,
        "sourceType": p.source_types,
        "email": p.email,
        "contactUnlockStatus": EMAIL_STATUS[p.email_state],
        "phone": p.phone,
        "phoneUnlockStatus": PHONE_STATUS[p.phone_state],
        "eventCount": p.event_count,
        "linkedinActivity": None,
        "linkedinActivityStatus": None,
        "outreachMessageStatus": None,
        "outreachMessageChannels": [],
    }
    for field, provenance in (("email", p.email_provenance), ("phone", p.phone_provenance)):
        # Extension: where a shown value came from (``pattern``: inferred) and its verification (docs/api.md).
        item[f"{field}Source"] = None if provenance is None else provenance.source
        item[f"{field}Verification"] = None if provenance is None else verification(provenance.verification)
    if p.unreadable:
        # Extension: one of this person's revealed values opens with no configured key (see docs/api.md).
        item["errorCode"] = sealed.UNREADABLE
    return item


def contact_page(p: Page[PersonView]) -> dict[str, Any]:
    """GET /external/contacts/search."""
    return page(p, contact_item)


def personnel_page(p: Page[PersonView]) -> dict[str, Any]:
    """GET /external/personnel/list: a page with the contract's ``semantics`` block (every match visible)."""
    body = page(p, contact_item)
    body["semantics"] = {
        "accessMode": "full",
        "previewLimit": None,
        "counts": {"actualTotal": p.total, "visibleTotal": p.total, "remainingLockedCount": 0},
    }
    return body


def iso_utc(moment: datetime | None) -> str | None:
    """A timestamp as the unlocked and erased lists write it (converted to UTC, ``Z``)."""
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def unlocked_item(u: UnlockedView) -> dict[str, Any]:
    """An item of GET /external/contacts/unlocked."""
    return {
        "personnelId": str(u.personnel_id),
        "channel": u.channel,
        "value": u.value,
        "verification": verification(u.verification),
        "source": u.source,
        "unlockedAt": iso_utc(u.unlocked_at),
        "taskId": str(u.task_id),
    }


def verification(v: VerificationView | None) -> dict[str, Any] | None:
    """A stored verification as the unlocked list and ContactItems write it (null where never checked)."""
    return None if v is None else {"status": v.status, "score": v.score, "checkedAt": iso_utc(v.checked_at)}


def unlocked_page(p: Page[UnlockedView]) -> dict[str, Any]:
    """GET /external/contacts/unlocked."""
    return page(p, unlocked_item)


def erased_item(e: ErasedView) -> dict[str, Any]:
    """An item of GET /external/contacts/erased."""
    return {
        "personnelId": str(e.personnel_id),
        "reason": REMOVAL_REASON[e.reason],
        "channel": e.channel,
        "at": iso_utc(e.at),
    }


def erased_page(p: Page[ErasedView]) -> dict[str, Any]:
    """GET /external/contacts/erased."""
    return page(p, erased_item)


def ledger_entry(e: LedgerEntry) -> dict[str, Any]:
    """One posting of GET /external/credits/transactions (LedgerEntryPublic)."""
    return {
        "entryId": str(e.entry_id),
        "kind": e.kind.value,
        "availableDelta": e.available_delta,
        "heldDelta": e.held_delta,
        "bucket": e.bucket_kind.value,
        "causeType": e.cause_type,
        "causeId": str(e.cause_id),
        "taskId": None if e.task_id is None else str(e.task_id),
        "callSource": e.call_source,
        "createdAt": iso(e.created_at),
    }


def ledger_page(h: LedgerHistory) -> dict[str, Any]:
    """GET /external/credits/transactions (LedgerPage): the page object and its snapshot bound."""
    return {**page(h.page, ledger_entry), "upToId": str(h.up_to_id)}
