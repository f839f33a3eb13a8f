"""The wire shapes of the directory, the unlocked and the erased lists, from plain typed values (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from contactvault.server.api import mappers
from contactvault.server.services import sealed
from contactvault.server.services.directory import ContactState, EventDetailView, EventView, Page, PersonView
from contactvault.server.services.unlocked_contacts import ErasedView, RemovalReason, UnlockedView
from contactvault.server.services.unlocks import VerificationView

AT = datetime(2026, 11, 30, 9, 0, 1, tzinfo=UTC)
EVENT = EventView(
    100, "Expo", None, "d", "https://x.test", date(2026, 3, 1), None, "Hall", "Berlin", None, "DE", 3, None, "x"
)


def person(
    email_state: ContactState = ContactState.LOCKED, phone_state: ContactState = ContactState.LOCKED, **kw: object
) -> PersonView:
    fields: dict[str, object] = {
        "personnel_id": 7,
        "full_name": "Ada Lovelace",
        "title": "CTO",
        "department": None,
        "seniority_level": "c_level",
        "linkedin_url": None,
        "company_name": "Acme",
        "source_types": ["exhibitor", "visitors"],
        "email": None,
        "email_state": email_state,
        "phone": None,
        "phone_state": phone_state,
        "event_count": 2,
    }
    return PersonView(**{**fields, **kw})  # type: ignore[arg-type]


def test_an_event_item_names_its_id_twice_and_writes_days() -> None:
    item = mappers.event_item(EVENT)
    assert list(item) == [
        "id", "eventId", "name", "nickname", "description", "url", "dateStart", "dateEnd", "venue", "city",
        "region", "country", "exhibitorCount", "image", "dataSource", "hasVisitors", "sponsorMatchStarred",
    ]  # fmt: skip
    assert (item["id"], item["eventId"], item["dateStart"], item["dateEnd"]) == ("100", "100", "2026-03-01", None)
    assert (item["hasVisitors"], item["sponsorMatchStarred"], item["exhibitorCount"]) == (False, 0, 3)


def test_an_event_detail_is_the_item_and_its_counts_in_an_envelope() -> None:
    body = mappers.event_detail(EventDetailView(EVENT, None, 12, "trade_show", ["ai", "iot"]))
    assert list(body) == ["event"]
    detail = body["event"]
    assert list(detail)[-4:] == ["attendeeCount", "personnelCount", "eventType", "topics"]
    assert {k: detail[k] for k in list(detail)[:-4]} == mappers.event_item(EVENT)
    assert (detail["attendeeCount"], detail["personnelCount"], detail["topics"]) == (None, 12, ["ai", "iot"])


@pytest.mark.parametrize(
    ("state", "email_status", "phone_status"),
    [
        (ContactState.LOCKED, "locked", None),
        (ContactState.UNLOCKING, "unlocking", "processing"),
        (ContactState.UNLOCKED, "unlocked", "ready"),
        (ContactState.FAILED, "failed", "failed"),
    ],
)
def test_each_channel_state_has_its_own_word_per_channel(
    state: ContactState, email_status: str, phone_status: str | None
) -> None:
    item = mappers.contact_item(person(state, state))
    assert (item["contactUnlockStatus"], item["phoneUnlockStatus"]) == (email_status, phone_status)


def test_a_contact_item_has_every_field_in_the_wire_order_and_no_error_code_when_readable() -> None:
    item = mappers.contact_item(person(ContactState.UNLOCKED, email="ada@example.com"))
    assert item == {
        "id": "7",
        "fullName": "Ada Lovelace",
        "title": "CTO",
        "department": None,
        "seniorityLevel": "c_level",
        "linkedinUrl": None,
        "companyName": "Acme",
        "sourceType": ["exhibitor", "visitors"],
        "email": "ada@example.com",
        "contactUnlockStatus": "unlocked",
        "phone": None,
        "phoneUnlockStatus": None,
        "eventCount": 2,
        "linkedinActivity": None,
        "linkedinActivityStatus": None,
        "outreachMessageStatus": None,
        "outreachMessageChannels": [],
        "emailSource": None,
        "emailVerification": None,
        "phoneSource": None,
        "phoneVerification": None,
    }
    assert list(item)[-1] == "phoneVerification"


def test_an_unreadable_value_adds_the_error_code_last() -> None:
    item = mappers.contact_item(person(ContactState.UNLOCKED, unreadable=True))
    assert list(item)[-1] == "errorCode"
    assert (item["errorCode"], item["email"]) == (sealed.UNREADABLE, None)


def test_a_page_counts_its_pages_and_says_whether_more_follow() -> None:
    body = mappers.event_page(Page([EVENT], total=5, page=2, size=2))
    assert list(body) == ["items", "total", "page", "pageSize", "totalPages", "hasMore"]
    assert (body["total"], body["page"], body["pageSize"], body["totalPages"], body["hasMore"]) == (5, 2, 2, 3, True)
    assert body["items"] == [mappers.event_item(EVENT)]
    last = mappers.contact_page(Page([person()], total=5, page=3, size=2))
    assert (last["totalPages"], last["hasMore"]) == (3, False)
    empty = mappers.contact_page(Page([], total=0, page=1, size=50))
    assert (empty["items"], empty["totalPages"], empty["hasMore"]) == ([], 0, False)


def test_a_personnel_page_adds_the_semantics_block_with_every_match_visible() -> None:
    body = mappers.personnel_page(Page([person()], total=9, page=1, size=1))
    assert list(body)[-1] == "semantics"
    assert body["semantics"] == {
        "accessMode": "full",
        "previewLimit": None,
        "counts": {"actualTotal": 9, "visibleTotal": 9, "remainingLockedCount": 0},
    }
    assert {k: v for k, v in body.items() if k != "semantics"} == mappers.contact_page(Page([person()], 9, 1, 1))


def test_an_unlocked_contact_writes_utc_times_and_its_verification_as_stored() -> None:
    plus_two = AT.astimezone(timezone(timedelta(hours=2)))
    checked = UnlockedView(7, "email", "ada@example.com", VerificationView("valid", None, plus_two), AT, 57, "pattern")
    assert mappers.unlocked_item(checked) == {
        "personnelId": "7",
        "channel": "email",
        "value": "ada@example.com",
        "verification": {"status": "valid", "score": None, "checkedAt": "2026-11-30T09:00:01Z"},
        "source": "pattern",
        "unlockedAt": "2026-11-30T09:00:01Z",
        "taskId": "57",
    }
    hidden = mappers.unlocked_page(Page([UnlockedView(7, "phone", None, None, AT, 57)], 1, 1, 20))["items"][0]
    assert (hidden["value"], hidden["verification"]) == (None, None)


def test_an_erasure_and_an_opt_out_name_their_reason_and_channel() -> None:
    erased = mappers.erased_item(ErasedView(7, RemovalReason.ERASED, None, AT))
    assert erased == {"personnelId": "7", "reason": "erased", "channel": None, "at": "2026-11-30T09:00:01Z"}
    opted = mappers.erased_item(ErasedView(8, RemovalReason.OPTED_OUT, "phone", AT))
    assert (opted["reason"], opted["channel"]) == ("opted_out", "phone")
    body = mappers.erased_page(Page([ErasedView(7, RemovalReason.ERASED, None, AT)], 1, 1, 20))
    assert body["items"] == [erased]
