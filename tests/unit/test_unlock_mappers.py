"""The wire shapes of unlock results, from plain typed values (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

from contactvault.server.api import mappers
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.precheck import ReasonCode
from contactvault.server.domain.tasks import classify
from contactvault.server.services import sealed
from contactvault.server.services.unlocks import ItemView, PrecheckResult, SubmitResult, TaskView, VerificationView

AT = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def test_a_submission_with_a_task_is_accepted_and_names_it_twice() -> None:
    sorted_ids = classify(["1", "2", "x"], known={1, 2}, linked={1}, unlocked=set(), in_flight=set())
    body = mappers.submission(SubmitResult(42, ["2"], sorted_ids))
    assert list(body) == ["status", "task_id", "job_id", "skipped_personnel_ids", "skipped_detail"]
    assert (body["status"], body["task_id"], body["job_id"]) == ("accepted", "42", "42")
    assert body["skipped_detail"]["unlinked_personnel_ids"] == ["2"]
    assert body["skipped_detail"]["invalid_personnel_ids"] == ["x"]


def test_a_submission_with_nothing_to_charge_is_success_without_a_task() -> None:
    sorted_ids = classify(["9"], known=set(), linked=set(), unlocked=set(), in_flight=set())
    status, body = mappers.submission_reply(SubmitResult(None, ["9"], sorted_ids))
    assert status == 201
    assert body == {"status": "success", "skipped_personnel_ids": ["9"], "skipped_detail": sorted_ids.skipped_detail()}


def view(*items: ItemView, status: str = "completed") -> TaskView:
    return TaskView(7, Channel.PHONE, status, 3, items, 300, 150, 150, AT, AT)


def test_a_task_counts_its_items_and_writes_utc_timestamps() -> None:
    found = ItemView(1, "unlocked", None, 150, "vault", AT, "+15550100", VerificationView(None, None, None))
    failed = ItemView(2, "failed", "UNRESOLVED", 0, None, AT)
    body = mappers.task(view(found, failed))
    assert body["counts"] == {"pending": 0, "processing": 0, "unlocked": 1, "failed": 1}
    assert body["createdAt"] == "2026-11-30T04:00:00Z"
    assert body["items"][0] == {
        "personnelId": "1",
        "status": "unlocked",
        "phone": "+15550100",
        "verification": {"status": "unknown", "score": 0, "checkedAt": None},
        "creditsCharged": 150,
        "source": "vault",
        "completedAt": "2026-11-30T04:00:00Z",
    }
    assert body["items"][1] == {
        "personnelId": "2",
        "status": "failed",
        "errorCode": "UNRESOLVED",
        "creditsCharged": 0,
        "completedAt": "2026-11-30T04:00:00Z",
    }


def test_an_unreadable_value_is_an_unlocked_item_with_an_error_code_and_is_not_cacheable() -> None:
    item = ItemView(1, "unlocked", None, 150, None, None, None, None, unreadable=True)
    task = view(item)
    assert mappers.task(task)["items"][0] == {
        "personnelId": "1",
        "status": "unlocked",
        "errorCode": sealed.UNREADABLE,
        "creditsCharged": 150,
    }
    assert task.terminal
    assert not task.cacheable
    assert not view(ItemView(1, "pending", None, 0, None, None), status="pending").cacheable


def test_a_precheck_of_an_unknown_event_details_only_the_count() -> None:
    result = PrecheckResult(ReasonCode.NOT_FOUND, 0, 3, None, 0, 15)
    assert not result.allowed
    assert mappers.precheck_detail(result) == {"requested_count": 3}
