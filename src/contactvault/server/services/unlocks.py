"""Unlock use cases: submit a task (classify, check the balance, hold credits), read it, precheck."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from contactvault.server import faults
from contactvault.server.db import audit, ledger, queue
from contactvault.server.db.tables import (
    events,
    task_items,
    tasks,
    unlocks,
)
from contactvault.server.db.unlocks import standing
from contactvault.server.domain import ledger as rules
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InsufficientCredits, NotFound
from contactvault.server.domain.ledger import Channel, PostingKind
from contactvault.server.domain.precheck import ReasonCode, unlock_reason, verdict
from contactvault.server.domain.tasks import Classification, ItemStatus, TaskStatus, classify, dedupe, parse_person_id
from contactvault.server.runtime import Runtime
from contactvault.server.services import sealed
from contactvault.server.services.idempotency import Claim

SUBMIT_RETRIES = 3


@dataclass(frozen=True, slots=True)
class UnlockRequest:
    """A validated submission."""

    account_id: int
    channel: Channel
    event_id: str
    personnel_ids: Sequence[str]
    max_credits: int | None = None
    call_source: str = "api"
    trace_id: str | None = None


def _event_pk(raw: str) -> int | None:
    return parse_person_id(raw)  # the same digit-string rule


def _classify(conn: Connection, account_id: int, channel: Channel, event_id: int, ids: Sequence[str]) -> Classification:
    parsed = [p for p in (parse_person_id(i) for i in ids) if p is not None]
    found = standing(conn, account_id, channel.value, event_id, parsed)
    return classify(ids, known=found.known, linked=found.linked, unlocked=found.unlocked, in_flight=found.in_flight)


def _require_event(conn: Connection, raw: str) -> int:
    event_id = _event_pk(raw)
    if event_id is None or conn.execute(select(events.c.id).where(events.c.id == event_id)).first() is None:
        raise NotFound("Event not found.")  # never echoed: any string up to 100 characters
    return event_id


def submit(rt: Runtime, req: UnlockRequest, idem: Claim | None = None) -> tuple[int, dict[str, Any]]:
    """Create a task and hold its credits in one transaction; returns (HTTP status, snake_case body)."""
    for attempt in range(SUBMIT_RETRIES):
        try:
            return _submit_once(rt, req, idem)
        except IntegrityError:
            # Another submission took one of these people between our read and our write (PostgreSQL only;
            # SQLite serialises writers). Classify again: they now count as "unlocking".
            if attempt == SUBMIT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _submit_once(rt: Runtime, req: UnlockRequest, idem: Claim | None) -> tuple[int, dict[str, Any]]:
    now = rt.clock.now()
    ids = dedupe(req.personnel_ids)
    price = rules.PRICES[req.channel]
    with rt.db.write() as conn:
        event_id = _require_event(conn, req.event_id)
        # The account's buckets are locked before anything else (in id order, like every transaction that touches
        # them): submissions of one account queue here, so the classification below sees the items of the one
        # before (no unique violation on the in-flight index), and no ledger insert can come between the locks.
        buckets = ledger.buckets_of(conn, req.account_id, lock=True)
        sorted_ids = _classify(conn, req.account_id, req.channel, event_id, ids)
        skipped = {
            "skipped_personnel_ids": sorted_ids.skipped(ids),
            "skipped_detail": sorted_ids.skipped_detail(),
        }
        if not sorted_ids.chargeable:
            body: dict[str, Any] = {"status": "success", **skipped}
            if idem:
                idem.complete(conn, 201, body, now)
            return 201, body
        hold = rules.hold_for(price, len(sorted_ids.chargeable), req.max_credits)
        slices = rules.allocate(buckets, hold, now)
        if slices is None:
            available = sum(b.balance for b in rules.spendable(buckets, now))
            raise InsufficientCredits(required=hold, available=available)
        task_id = rt.ids.new_id()
        _insert_task(conn, req, task_id, event_id, sorted_ids.chargeable, hold, slices, now)
        body = {"status": "accepted", "task_id": str(task_id), "job_id": str(task_id), **skipped}
        if idem:
            idem.complete(conn, 201, body, now)
        faults.hit("before_submit_commit")
    rt.notifier.kick_worker()
    return 201, body


def _insert_task(
    conn: Connection,
    req: UnlockRequest,
    task_id: int,
    event_id: int,
    chargeable: list[str],
    hold: int,
    slices: list[rules.Slice],
    now: datetime,
) -> None:
    queue.create_task(
        conn,
        queue.NewTask(
            task_id, req.account_id, event_id, req.channel.value, req.call_source, req.max_credits, hold, req.trace_id
        ),
        [int(p) for p in chargeable],
        [(s.bucket_id, s.amount) for s in slices],
        now,
    )
    ledger.post(
        conn,
        [
            ledger.Posting(req.account_id, s.bucket_id, PostingKind.HOLD, -s.amount, s.amount, "task", task_id, task_id)
            for s in slices
        ],
        now,
    )
    audit.record(
        conn,
        [
            audit.AuditEntry(
                AuditAction.CREDITS_HOLD,
                req.account_id,
                "task",
                str(task_id),
                hold,
                {"items": len(chargeable), "channel": req.channel.value},
            )
        ],
        now,
        req.trace_id,
    )


def precheck(
    rt: Runtime, account_id: int, channel: Channel, event_id_raw: str, personnel_ids: Sequence[str]
) -> dict[str, Any]:
    """What a submission would do, reserving nothing (the wire's precheck ``detail`` and verdict)."""
    ids = dedupe(personnel_ids)
    price = rules.PRICES[channel]
    now = rt.clock.now()
    with rt.db.read() as conn:
        event_id = _event_pk(event_id_raw)
        if event_id is None or conn.execute(select(events.c.id).where(events.c.id == event_id)).first() is None:
            return {
                "reason_code": ReasonCode.NOT_FOUND.value,
                "allowed": False,
                "credits": 0,
                "detail": {"requested_count": len(ids)},
            }
        result = _classify(conn, account_id, channel, event_id, ids)
        available = sum(b.balance for b in rules.spendable(ledger.buckets_of(conn, account_id), now))
    credits = price * len(result.chargeable)
    reason = unlock_reason(result, available=available, price=price)
    return {
        "reason_code": reason.value,
        "allowed": verdict(reason, credits).allowed,
        "credits": credits,
        "detail": {
            "requested_count": len(ids),
            "chargeable_count": len(result.chargeable),
            "already_unlocked_count": len(result.already_unlocked),
            "unlocking_count": len(result.unlocking),
            "personnel_ids": result.chargeable,
            "missing_personnel_ids": result.missing,
            "invalid_personnel_ids": result.invalid,
            "unlinked_personnel_ids": result.unlinked,
            "available_balance": available,
            "unit_cost": price,
        },
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def get_task(rt: Runtime, account_id: int, task_id: int, channel: Channel) -> tuple[int, dict[str, Any]]:
    """A task as its owner sees it, with its version (for ETags); another account's task is not found."""
    with rt.db.read() as conn:
        task = conn.execute(select(tasks).where(tasks.c.id == task_id)).first()
        if task is None or task.account_id != account_id or task.channel != channel.value:
            raise NotFound("Task not found.")
        rows = conn.execute(
            select(
                task_items.c.id,
                task_items.c.personnel_id,
                task_items.c.status,
                task_items.c.error_code,
                task_items.c.credits_charged,
                task_items.c.source,
                task_items.c.completed_at,
                unlocks.c.id.label("unlock_id"),
                unlocks.c.value_encrypted,
                unlocks.c.verification_status,
                unlocks.c.verification_score,
                unlocks.c.checked_at,
            )
            .select_from(
                task_items.outerjoin(
                    unlocks,
                    (unlocks.c.account_id == task_items.c.account_id)
                    & (unlocks.c.personnel_id == task_items.c.personnel_id)
                    & (unlocks.c.channel == task_items.c.channel)
                    & (task_items.c.status == ItemStatus.UNLOCKED.value),
                )
            )
            .where(task_items.c.task_id == task_id)
            .order_by(task_items.c.position)
        ).all()
        shown = sealed.show(
            rt,
            conn,
            [
                sealed.Sealed(int(r.unlock_id), int(r.personnel_id), channel.value, r.value_encrypted)
                for r in rows
                if r.status == ItemStatus.UNLOCKED and r.value_encrypted is not None
            ],
        )
    field = channel.value
    counts = {s.value: 0 for s in ItemStatus}
    items = []
    for r in rows:
        counts[r.status] += 1
        items.append(_task_item(r, shown.get(int(r.unlock_id)) if r.unlock_id is not None else None, field))
    body = {
        "taskId": str(task_id),
        "taskStatus": task.status,
        "items": items,
        "counts": counts,
        "creditsHeld": task.credits_held,
        "creditsCharged": task.credits_charged,
        "creditsReleased": task.credits_released,
        "createdAt": _iso(task.created_at),
        "completedAt": _iso(task.completed_at),
    }
    return int(task.version), body


def _task_item(r: Any, value: sealed.Shown | None, field: str) -> dict[str, Any]:
    """One item of a task as its owner sees it (``value``: what ``sealed.show`` gave for its unlock, if any)."""
    item: dict[str, Any] = {"personnelId": str(r.personnel_id), "status": r.status}
    if value is not None and value.unreadable:
        # Delivered and charged, but no configured key opens it: an unlocked item with an error code.
        item["errorCode"] = sealed.UNREADABLE
    if value is not None and value.value is not None:
        item[field] = value.value
        item["verification"] = {
            "status": r.verification_status or "unknown",
            "score": r.verification_score if r.verification_score is not None else 0,
            "checkedAt": _iso(r.checked_at),
        }
    if r.status == ItemStatus.FAILED:
        item["errorCode"] = r.error_code
    item["creditsCharged"] = r.credits_charged
    if r.source:
        item["source"] = r.source
    if r.completed_at:
        item["completedAt"] = _iso(r.completed_at)
    return item


def view_task(rt: Runtime, account_id: int, task_id: int, channel: Channel) -> tuple[int, dict[str, Any]]:
    """Like ``get_task``, but a finished task's body comes from memory while its version is unchanged."""
    peek = task_version(rt, account_id, task_id)
    if peek is not None and peek[1]:
        cached = rt.task_views.get((account_id, task_id, channel.value, peek[0]))
        if cached is not None:
            return peek[0], cached
    version, body = get_task(rt, account_id, task_id, channel)
    # A value that no key opens may open once the key is put back, which bumps no version: never cache it.
    readable = all(i.get("errorCode") != sealed.UNREADABLE for i in body["items"])
    if TaskStatus(body["taskStatus"]).is_terminal and readable:
        rt.task_views.put((account_id, task_id, channel.value, version), body)
    return version, body


def task_version(rt: Runtime, account_id: int, task_id: int) -> tuple[int, bool] | None:
    """A cheap look at a task's version and whether it is terminal (for long-polling)."""
    with rt.db.read() as conn:
        row = conn.execute(
            select(tasks.c.version, tasks.c.status).where(tasks.c.id == task_id, tasks.c.account_id == account_id)
        ).first()
    return None if row is None else (int(row.version), TaskStatus(row.status).is_terminal)
