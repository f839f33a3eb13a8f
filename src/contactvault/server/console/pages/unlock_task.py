"""An unlock task (``GET /console/unlocks/{task_id}``): live progress, then one row per person and the money.

The ``progress`` block re-renders itself while the task runs: its fragment route long-polls (it answers as soon
as the task's version moves past the one the block showed, or after ``LONG_POLL_SECONDS``), so the browser asks
again at once (``hx-trigger="load"``). A finished task's block carries no hx attributes: polling stops.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from contactvault.server.api.deps import RuntimeDep
from contactvault.server.console.auth import SignedIn
from contactvault.server.console.render import page
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.resolution import is_inferred
from contactvault.server.domain.tasks import ItemStatus, TaskStatus, parse_task_id
from contactvault.server.notifier import Listener, WaitSlots
from contactvault.server.runtime import Runtime
from contactvault.server.services import people, unlocks
from contactvault.server.services.console_sessions import Principal

router = APIRouter(prefix="/console", include_in_schema=False)
LONG_POLL_SECONDS = 15.0
# While the notifier may miss a writer in another process, a waiter re-reads the version this often.
FALLBACK_CHECK_SECONDS = 1.0
# Asked again at once after a long-poll; after a refused wait (over a cap), only after a pause.
TRIGGER = "load"
TRIGGER_AFTER_REFUSAL = "load delay:2s"
STATUS_BADGES = {
    TaskStatus.PENDING: ("muted", "Waiting"),
    TaskStatus.PROCESSING: ("warn", "Running"),
    TaskStatus.COMPLETED: ("ok", "Finished"),
}
REASONS = {
    "UNRESOLVED": "No deliverable address was found.",
    "INELIGIBLE": "This person may not be revealed (opted out, or no contact data allowed).",
    "CREDIT_CAP_REACHED": "The spending cap of this unlock was reached.",
    "TASK_FAILED": "Could not be resolved after several tries.",
    "TASK_NOT_FOUND": "The task could not be found.",
}
WHAT = {Channel.EMAIL: "Email", Channel.PHONE: "Phone"}


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One person of a task: who, what happened (badge and reason in words), the value when revealed."""

    person_id: int
    name: str
    detail: str
    kind: str
    outcome: str
    reason: str
    value: str | None
    credits: int
    inferred: str = ""  # for a value the engine inferred: its verification in words ("valid, score 97")


@dataclass(frozen=True, slots=True)
class Tally:
    """The counts the progress text shows."""

    total: int
    processed: int
    unlocked: int
    free: int
    failed: int


def _outcome(item: unlocks.ItemView) -> tuple[str, str, str]:
    status = ItemStatus(item.status)
    if status is ItemStatus.UNLOCKED:
        if item.credits_charged:
            return "ok", "Unlocked", "Value unreadable: ask your administrator." if item.unreadable else ""
        return "free", "Already unlocked \u2014 free", "You had this person already; nothing was charged."
    if status is ItemStatus.FAILED:
        code = item.error_code or ""
        return "bad", "Failed", REASONS.get(code, f"Not delivered ({code}).") + " Nothing was charged."
    if status is ItemStatus.PROCESSING:
        return "warn", "In progress", ""
    return "muted", "Waiting", ""


def _inferred(item: unlocks.ItemView) -> str:
    """The verification of a value the engine inferred, in words; "" for an imported value."""
    if not is_inferred(item.source):
        return ""
    check = item.verification
    status = (check.status if check else None) or "unknown"
    return f"{status.replace('_', '-')}, score {check.score}" if check and check.score is not None else status


def outcome_rows(rt: Runtime, view: unlocks.TaskView) -> list[OutcomeRow]:
    """One row per item, in submission order, named."""
    labels = people.labels(rt, [i.personnel_id for i in view.items])
    rows = []
    for item in view.items:
        label = labels.get(item.personnel_id)
        name = label.full_name if label else f"Person {item.personnel_id}"
        detail = " · ".join(p for p in (label.title, label.company_name) if p) if label else ""
        kind, outcome, reason = _outcome(item)
        value = item.value
        inferred = _inferred(item) if value else ""
        rows.append(
            OutcomeRow(item.personnel_id, name, detail, kind, outcome, reason, value, item.credits_charged, inferred)
        )
    return rows


def tally(view: unlocks.TaskView) -> Tally:
    """How many items are finished, delivered (charged or free) and failed."""
    done = [i for i in view.items if ItemStatus(i.status).is_terminal]
    unlocked = [i for i in done if i.status == ItemStatus.UNLOCKED]
    free = sum(1 for i in unlocked if not i.credits_charged)
    return Tally(len(view.items), len(done), len(unlocked) - free, free, len(done) - len(unlocked))


def _context(rt: Runtime, view: unlocks.TaskView, trigger: str) -> dict[str, Any]:
    counts = tally(view)
    return {
        "view": view,
        "what": WHAT[view.channel],
        "status": STATUS_BADGES[TaskStatus(view.status)],
        "counts": counts,
        "rows": outcome_rows(rt, view),
        "still_held": view.credits_held - view.credits_charged - view.credits_released,
        "poll_url": f"/console/unlocks/{view.task_id}/progress?after={view.version}",
        "trigger": trigger,
        "announce": f"Unlock finished: {counts.unlocked + counts.free:,} unlocked, {counts.failed:,} failed",
    }


def _task_id(raw: str) -> int:
    task_id = parse_task_id(raw)
    if task_id is None:
        raise NotFound("Task not found.")
    return task_id


@router.get("/unlocks/{task_id}")
def task(request: Request, rt: RuntimeDep, principal: SignedIn, task_id: str) -> Response:
    """The task's status, progress, money and per-person outcomes (another account's task is not found)."""
    view = unlocks.get_task(rt, principal.account_id, _task_id(task_id))
    return page(request, "unlock/task.html", _context(rt, view, TRIGGER))


@router.get("/unlocks/{task_id}/progress")
async def progress(
    request: Request,
    rt: RuntimeDep,
    principal: SignedIn,
    task_id: str,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The ``progress`` block; with ``after`` (the version the browser shows) it waits for the task to move on."""
    tid = _task_id(task_id)
    trigger = TRIGGER
    with rt.notifier.listen(tid) as listener:
        peek = await run_in_threadpool(unlocks.task_version, rt, principal.account_id, tid)
        if peek is None:
            raise NotFound("Task not found.")
        waits = after is not None and peek[0] == after and not peek[1]
        if waits and not await _wait(request, rt, listener, principal, tid, peek[0]):
            trigger = TRIGGER_AFTER_REFUSAL
    view = await run_in_threadpool(unlocks.get_task, rt, principal.account_id, tid)
    context = await run_in_threadpool(_context, rt, view, trigger)
    return page(request, "unlock/task.html", context, block="progress")


async def _wait(request: Request, rt: Runtime, listener: Listener, principal: Principal, tid: int, seen: int) -> bool:
    """Wait until the task's version moves past ``seen`` (or it ends, or the wait runs out); False when the wait
    was refused (over the per-key or per-node cap of long-polls, shared with the API's)."""
    slots: WaitSlots = request.app.state.long_polls
    key = str(principal.key_id or f"user:{principal.user_id}")
    if slots.take(key):
        return False
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LONG_POLL_SECONDS
        while (left := deadline - loop.time()) > 0:
            recheck = None if rt.notifier.hears_every_writer() else FALLBACK_CHECK_SECONDS
            await listener.wait(left if recheck is None else min(left, recheck))
            peek = await run_in_threadpool(unlocks.task_version, rt, principal.account_id, tid)
            if peek is None or peek[0] != seen or peek[1]:
                break
    finally:
        slots.give_back(key)
    return True
