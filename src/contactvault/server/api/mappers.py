"""Typed results of the services, mapped to the wire shapes that ``api/schemas.py`` and ``precheck_schemas.py``
declare: each shape is built here and nowhere else.

They build plain dicts, key by key in the order the wire has always had (the bytes of a reply, and of an
idempotent replay stored before a deploy, must not change); the recorder of tests/api validates every reply
against the published schemas.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contactvault.server.domain.tasks import ItemStatus
from contactvault.server.services import sealed
from contactvault.server.services.credits import Balance
from contactvault.server.services.unlocks import ItemView, PrecheckResult, SubmitResult, TaskView

CREATED = 201


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
