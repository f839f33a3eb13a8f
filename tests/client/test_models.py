"""The models accept every Lensmor 0.24-0.27 shape, keep unknown fields, and never print addresses."""

from __future__ import annotations

from contactvault import (
    ContactItem,
    CreditBalance,
    EventDetail,
    Page,
    PrecheckResult,
    UnlockSubmission,
    UnlockTask,
    Verification,
)


def contact(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "789",
        "fullName": "Jane Doe",
        "title": "VP of Partnerships",
        "companyName": "Example Retail Co",
        "sourceType": ["exhibitor", "social"],
        "email": None,
        "contactUnlockStatus": "locked",
    }
    body.update(overrides)
    return body


def test_source_type_accepts_an_array() -> None:
    assert ContactItem.model_validate(contact()).source_type == ["exhibitor", "social"]


def test_source_type_accepts_a_single_string() -> None:
    assert ContactItem.model_validate(contact(sourceType="visitors")).source_type == ["visitors"]


def test_source_type_accepts_null() -> None:
    assert ContactItem.model_validate(contact(sourceType=None)).source_type == []


def test_numeric_ids_become_strings() -> None:
    item = ContactItem.model_validate(contact(id=789))
    assert item.id == "789"
    task = UnlockTask.model_validate(
        {"taskId": 321, "taskStatus": "pending", "items": [{"personnelId": 7, "status": "pending"}]}
    )
    assert task.task_id == "321"
    assert task.items[0].personnel_id == "7"


def test_unknown_fields_are_kept_and_reachable() -> None:
    item = ContactItem.model_validate(contact(linkedinActivity=None, outreachMessageChannels=[], brandNew={"a": 1}))
    assert item.model_extra == {"linkedinActivity": None, "outreachMessageChannels": [], "brandNew": {"a": 1}}
    assert item.brandNew == {"a": 1}  # type: ignore[attr-defined]


def test_success_submission_without_task_id_or_skipped_detail() -> None:
    submission = UnlockSubmission.model_validate({"status": "success", "skipped_personnel_ids": [789]})
    assert submission.task_id is None
    assert not submission.has_task
    assert submission.skipped_personnel_ids == ["789"]
    assert submission.skipped_detail is None


def test_success_submission_with_skipped_detail() -> None:
    body = {
        "status": "success",
        "skipped_personnel_ids": ["789"],
        "skipped_detail": {"already_unlocked_personnel_ids": ["789"]},
    }
    submission = UnlockSubmission.model_validate(body)
    assert submission.skipped_detail == {"already_unlocked_personnel_ids": ["789"]}


def test_accepted_submission_from_the_seed_guide() -> None:
    submission = UnlockSubmission.model_validate({"status": "accepted", "task_id": "321", "job_id": "321"})
    assert submission.has_task
    assert submission.task_id == "321"
    assert submission.skipped_personnel_ids == []


def test_task_without_extension_fields_parses() -> None:
    body = {"taskId": "321", "taskStatus": "completed", "items": [
        {"personnelId": "789", "status": "unlocked", "email": "jane@example.com"},
        {"personnelId": "790", "status": "failed", "errorCode": "UNRESOLVED"},
    ]}  # fmt: skip
    task = UnlockTask.model_validate(body)
    assert task.is_terminal
    assert task.credits_charged is None
    assert task.counts is None
    assert [i.is_delivered for i in task.items] == [True, False]
    assert task.items[1].error_code == "UNRESOLVED"


def test_task_with_extension_fields_parses() -> None:
    body = {
        "taskId": "321", "taskStatus": "processing", "creditsHeld": 30, "creditsCharged": 15,
        "counts": {"pending": 1, "processing": 0, "unlocked": 1, "failed": 0},
        "items": [{"personnelId": "789", "status": "unlocked", "phone": "+15550001", "creditsCharged": 150,
                   "verification": {"status": "valid", "score": 90, "checkedAt": 1700000000000},
                   "source": "vault", "completedAt": "2026-01-01T00:00:00Z"}],
    }  # fmt: skip
    task = UnlockTask.model_validate(body)
    assert not task.is_terminal
    assert task.counts is not None
    assert task.counts.unlocked == 1
    item = task.items[0]
    assert item.address == "+15550001"
    assert item.verification is not None
    assert item.verification.score == 90


def test_unlocked_item_without_address_is_not_delivered() -> None:
    task = UnlockTask.model_validate({"taskId": "1", "taskStatus": "completed", "items": [
        {"personnelId": "789", "status": "unlocked", "email": ""}]})  # fmt: skip
    assert not task.items[0].is_delivered


def test_reprs_never_show_addresses() -> None:
    item = ContactItem.model_validate(contact(email="jane@example.com", phone="+15550001"))
    task = UnlockTask.model_validate({"taskId": "1", "taskStatus": "completed", "items": [
        {"personnelId": "789", "status": "unlocked", "email": "jane@example.com"}]})  # fmt: skip
    for text in (repr(item), str(item), repr(task), str(task)):
        assert "jane@example.com" not in text
        assert "+15550001" not in text


def test_credit_balance_with_and_without_reserved_balance() -> None:
    full = {"totalAmount": 1000, "totalBalance": 700, "subscriptionAmount": 1000, "subscriptionBalance": 700,
            "addonAmount": 0, "addonBalance": 0, "addonExpireAt": None, "giftAmount": 0, "giftBalance": 0,
            "resetAt": 1767225600000}  # fmt: skip
    assert CreditBalance.model_validate(full).reserved_balance is None
    assert CreditBalance.model_validate({**full, "reservedBalance": 30}).reserved_balance == 30


def test_event_detail_unwraps_and_keeps_flags() -> None:
    event = EventDetail.model_validate({"id": 5, "eventId": 5, "name": "Expo", "topics": ["ai"], "hasVisitors": False})
    assert (event.id, event.event_id, event.topics) == ("5", "5", ["ai"])
    assert event.model_extra == {"hasVisitors": False}


def test_page_next_page_uses_has_more_then_total_pages() -> None:
    item = contact()
    assert Page[ContactItem].model_validate({"items": [item], "page": 1, "hasMore": True}).next_page == 2
    assert Page[ContactItem].model_validate({"items": [item], "page": 2, "totalPages": 2}).next_page is None
    assert Page[ContactItem].model_validate({"items": [item], "page": 1, "totalPages": 3}).next_page == 2
    assert Page[ContactItem].model_validate({"items": [], "page": 1, "hasMore": True}).next_page is None


def test_precheck_result_parses_detail() -> None:
    result = PrecheckResult.model_validate({
        "ok": True, "action_type": "unlock_contact_emails", "allowed": True, "should_charge": True,
        "credits": 30, "reason_code": "ok", "biz_code": 0,
        "detail": {"requested_count": 3, "chargeable_count": 2, "personnel_ids": [1, "2"],
                   "missing_personnel_ids": ["9"], "invalid_personnel_ids": [], "available_balance": 100},
    })  # fmt: skip
    assert result.detail.personnel_ids == ["1", "2"]
    assert result.detail.missing_personnel_ids == ["9"]


def test_a_contact_item_carries_the_source_and_verification_of_a_shown_value() -> None:
    item = ContactItem.model_validate({
        "id": "7", "email": "ada@acme.test", "contactUnlockStatus": "unlocked", "emailSource": "pattern",
        "emailVerification": {"status": "accept_all", "score": 61, "checkedAt": None},
        "phoneSource": None, "phoneVerification": None,
    })  # fmt: skip
    assert item.email_source == "pattern"
    assert isinstance(item.email_verification, Verification)
    assert (item.email_verification.status, item.email_verification.score) == ("accept_all", 61)
    assert (item.phone_source, item.phone_verification) == (None, None)
    assert ContactItem.model_validate({"id": "8"}).email_source is None  # a server without the extension
