"""The resumable unlock workflow, written once as flows shared by ``Client`` and ``AsyncClient``.

A flow yields ``Call``/``Sleep`` effects and gets their results back; the only other I/O is the local state
file, written synchronously because it is a local SQLite file and must be durable before the next request.

Steps of ``unlock_flow``: de-duplicate ids; look each person up and keep the ones still locked for this
channel; estimate with precheck and the balance; ask ``confirm``; plan batches of at most 100 and store them
with their Idempotency-Keys; then ``run_batches`` submits each batch, stores its task id, waits for the task,
stores its items, and finally reads the balance again to reconcile. ``run_batches`` is also the resume path.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence

from . import _faults, _routes
from ._errors import InsufficientCreditsError, InvalidRequestError, NotFoundError
from ._models import Channel, ContactItem, CreditBalance, Page, PrecheckResult, UnlockSubmission, UnlockTask
from ._polling import wait_for_task
from ._results import SkippedContact, UnlockEstimate, UnlockProgress, UnlockResult
from ._routes import ChannelSpec, Flow, TaskCache, channel_spec
from .state import PersonRecord, RunRecord, StateStore

__all__ = ["BATCH_SIZE", "WorkflowContext", "resume_flow", "unlock_flow"]

BATCH_SIZE = 100
PERSONNEL_PAGE_SIZE = 50

# skipped_detail keys (minus their "_personnel_ids" suffix) -> the reasons UnlockResult.skipped reports.
_SERVER_SKIP_REASONS = {
    "already_unlocked": "already_unlocked",
    "unlocking": "unlock_in_progress",
    "missing": "not_found",
    "invalid": "invalid_id",
    "unlinked": "not_in_event",
}


@dataclasses.dataclass(frozen=True)
class WorkflowContext:
    """What a flow needs from the client that drives it, besides answering its calls."""

    base_url: str
    store: StateStore
    clock: Callable[[], float]
    cache: TaskCache
    long_poll: float
    task_timeout: float
    call_source: str | None = None
    confirm: Callable[[UnlockEstimate], bool] | None = None
    on_progress: Callable[[UnlockProgress], None] | None = None

    def report(
        self,
        stage: str,
        *,
        run_id: str | None = None,
        batch: int = 0,
        batches: int = 0,
        task_id: str | None = None,
        done: int = 0,
        total: int = 0,
    ) -> None:
        """Tell the caller's progress callback about a step, if there is one."""
        if self.on_progress is not None:
            self.on_progress(UnlockProgress(stage, run_id, batch, batches, task_id, done, total))


def unlock_flow(
    ctx: WorkflowContext,
    *,
    event_id: str,
    personnel_ids: Iterable[str | int],
    channel: Channel,
    max_credits: int | None = None,
) -> Flow[UnlockResult]:
    """Look up, estimate, confirm, then submit and wait for every batch; see the module docstring."""
    spec = channel_spec(channel)
    if max_credits is not None and max_credits < spec.unit_cost:
        # Nothing could be unlocked: refused before anything is asked, created or shown as an estimate.
        raise ValueError(f"max_credits={max_credits} is below the price of one {spec.name} ({spec.unit_cost} credits)")
    ids = deduplicate(personnel_ids)
    if not ids:
        raise ValueError("personnel_ids is empty")
    event_id = str(event_id)
    ctx.report("lookup", total=len(ids))
    people, skipped = yield from lookup_people(event_id, ids)
    candidates: list[str] = []
    for pid in ids:
        if pid not in people:
            continue
        reason = skip_reason(people[pid], spec.name)
        if reason is None:
            candidates.append(pid)
        else:
            skipped.append(SkippedContact(pid, reason))
    estimate = yield from estimate_cost(event_id, candidates, spec, max_credits, skipped)
    ctx.report("estimate", total=estimate.count)
    if estimate.count == 0:
        return _unstarted(estimate, "nothing_to_unlock")
    if ctx.confirm is not None and not ctx.confirm(estimate):
        return _unstarted(estimate, "cancelled")
    run = ctx.store.create_run(
        run_id=uuid.uuid4().hex,
        event_id=event_id,
        channel=spec.name,
        base_url=ctx.base_url,
        max_credits=max_credits,
        balance_before=estimate.balance,
        requested_count=len(ids),
        people=[_person(people[pid]) for pid in ids if pid in people],
        skipped=estimate.skipped,
        batches=[(chunk, str(uuid.uuid4())) for chunk in chunks(estimate.personnel_ids, BATCH_SIZE)],
    )
    result = yield from run_batches(ctx, run)
    return dataclasses.replace(result, estimate=estimate)


def resume_flow(ctx: WorkflowContext, run_id: str) -> Flow[UnlockResult]:
    """Carry an interrupted run to its end without creating any of its tasks twice."""
    run = ctx.store.get_run(run_id)
    if run.is_finished:
        # Nothing to do, and re-reading the balance now would rewrite the run's reconciliation.
        return ctx.store.run_result(run_id)
    return (yield from run_batches(ctx, run))


def run_batches(ctx: WorkflowContext, run: RunRecord) -> Flow[UnlockResult]:
    """Submit (or re-submit under the stored key) and wait for every unfinished batch, then reconcile."""
    spec = channel_spec(run.channel)
    store = ctx.store
    batches = store.batches(run.run_id)
    # From here on the run is in the state file: an interruption can be resumed (the caller may say how).
    ctx.report("started", run_id=run.run_id, batches=len(batches))
    for batch in batches:
        if batch.is_done:
            continue
        task_id = batch.task_id
        if task_id is None:
            if not batch.prepared:
                cap = _remaining_cap(store, run)
                if cap is not None and cap <= 0:
                    # The cap is spent: failing here costs nothing, a task would only fail every item.
                    store.close_batch(run.run_id, batch.seq, status="capped", failed_code="CREDIT_CAP_REACHED")
                    continue
                batch = store.prepare_batch(run.run_id, batch.seq, max_credits=cap)
            call = _routes.unlock_create(
                run.event_id,
                batch.personnel_ids,
                channel=spec.name,
                max_credits=batch.max_credits,
                idempotency_key=batch.idempotency_key,
                call_source=ctx.call_source,
            )
            try:
                submission: UnlockSubmission = yield call
            except InsufficientCreditsError:
                store.close_batch(run.run_id, batch.seq, status="rejected", skip_reason="insufficient_credits")
                continue
            _faults.hit("after_submit")
            task_id = submission.task_id
            if task_id is not None:
                store.record_task_id(run.run_id, batch.seq, task_id)
                _faults.hit("after_task_recorded")
            store.record_skipped(run.run_id, server_skips(submission, batch.personnel_ids))
            ctx.report("submitted", run_id=run.run_id, batch=batch.seq + 1, batches=len(batches), task_id=task_id)
            if task_id is None:
                store.close_batch(run.run_id, batch.seq, status="no_task")
                continue

        def on_update(task: UnlockTask, seq: int = batch.seq) -> None:
            done = sum(1 for item in task.items if item.status in {"unlocked", "failed"})
            ctx.report(
                "task", run_id=run.run_id, batch=seq + 1, batches=len(batches), task_id=task.task_id,
                done=done, total=len(task.items),
            )  # fmt: skip

        task = yield from wait_for_task(
            task_id,
            channel=spec.name,
            timeout=ctx.task_timeout,
            long_poll=ctx.long_poll,
            clock=ctx.clock,
            cache=ctx.cache,
            on_update=on_update,
        )
        store.record_task_result(run.run_id, batch.seq, task, credits_charged=credits_charged(task, spec))
        ctx.report("batch_done", run_id=run.run_id, batch=batch.seq + 1, batches=len(batches), task_id=task_id)
    balance: CreditBalance = yield _routes.credit_balance()
    store.finish_run(run.run_id, balance_after=balance.total_balance)
    ctx.report("done", run_id=run.run_id, batches=len(batches))
    return store.run_result(run.run_id)


def lookup_people(event_id: str, ids: Sequence[str]) -> Flow[tuple[dict[str, ContactItem], list[SkippedContact]]]:
    """Find each person: walk the event's list when that takes fewer requests, else one profile each."""
    wanted = set(ids)
    found: dict[str, ContactItem] = {}
    # The first page doubles as the "does this event exist" check (404 raises before anything is spent).
    page: Page[ContactItem] = yield _routes.personnel_list(event_id, page=1, page_size=PERSONNEL_PAGE_SIZE)
    walk = (page.total_pages or 1) <= len(ids)
    while True:
        found.update((item.id, item) for item in page.items if item.id in wanted)
        next_page = page.next_page
        if not walk or next_page is None or len(found) == len(wanted):
            break
        page = yield _routes.personnel_list(event_id, page=next_page, page_size=PERSONNEL_PAGE_SIZE)
    skipped: list[SkippedContact] = []
    for pid in ids:
        if pid in found:
            continue
        try:
            found[pid] = yield _routes.personnel_profile(pid)
        except NotFoundError:
            skipped.append(SkippedContact(pid, "not_found"))
        except InvalidRequestError:
            skipped.append(SkippedContact(pid, "invalid_id"))
    return found, skipped


def estimate_cost(
    event_id: str,
    candidates: Sequence[str],
    spec: ChannelSpec,
    max_credits: int | None,
    skipped: list[SkippedContact],
) -> Flow[UnlockEstimate]:
    """Ask precheck what the candidates cost (per 100) and read the balance."""
    chargeable: list[str] = []
    credits = 0
    for chunk in chunks(candidates, BATCH_SIZE):
        result: PrecheckResult = yield _routes.precheck(
            spec.action_type, {"event_id": event_id, "personnel_ids": list(chunk)}
        )
        listed = result.detail.personnel_ids
        if result.reason_code == "unsupported_action" or listed is None:
            # A server that cannot precheck this: assume all chargeable; the submission will sort them.
            chargeable.extend(chunk)
            credits += spec.unit_cost * len(chunk)
            continue
        ok = set(listed)
        missing = set(result.detail.missing_personnel_ids)
        invalid = set(result.detail.invalid_personnel_ids)
        for pid in chunk:
            if pid in ok:
                chargeable.append(pid)
            else:
                reason = "not_found" if pid in missing else "invalid_id" if pid in invalid else "not_chargeable"
                skipped.append(SkippedContact(pid, reason))
        credits += result.credits if result.credits is not None else spec.unit_cost * len(ok)
    balance: CreditBalance = yield _routes.credit_balance()
    return UnlockEstimate(
        event_id=event_id,
        channel=spec.name,
        count=len(chargeable),
        credits=credits,
        balance=balance.total_balance,
        max_credits=max_credits,
        personnel_ids=tuple(chargeable),
        skipped=tuple(skipped),
    )


def skip_reason(person: ContactItem, channel: Channel) -> str | None:
    """Why a person should not be submitted on this channel, or None when they are still locked."""
    if channel == "email":
        if person.email or person.contact_unlock_status == "unlocked":
            return "already_unlocked"
        if person.contact_unlock_status == "unlocking":
            return "unlock_in_progress"
        return None
    if person.phone or person.phone_unlock_status == "ready":
        return "already_unlocked"
    if person.phone_unlock_status == "processing":
        return "unlock_in_progress"
    return None


def server_skips(submission: UnlockSubmission, batch_ids: Sequence[str]) -> list[SkippedContact]:
    """The people a submission did not charge, with the reason its ``skipped_detail`` gives."""
    reasons: dict[str, str] = {}
    for key, value in (submission.skipped_detail or {}).items():
        if not isinstance(value, list):
            continue
        name = key.removesuffix("_personnel_ids").removesuffix("_ids")
        for pid in value:
            reasons.setdefault(str(pid), _SERVER_SKIP_REASONS.get(name, name))
    skipped = list(submission.skipped_personnel_ids)
    # contactvault lists malformed ids once, in skipped_detail only.
    skipped += [pid for pid in reasons if pid not in set(skipped)]
    if not submission.has_task:
        # No task means nobody in the batch was chargeable, listed or not.
        skipped += [pid for pid in batch_ids if pid not in set(skipped)]
    return [SkippedContact(pid, reasons.get(pid, "not_chargeable")) for pid in skipped]


def credits_charged(task: UnlockTask, spec: ChannelSpec) -> int:
    """What a terminal task charged: its own total, else its items', else unit cost x delivered."""
    if task.credits_charged is not None:
        return task.credits_charged
    per_item = [item.credits_charged for item in task.items]
    if per_item and all(c is not None for c in per_item):
        return sum(c or 0 for c in per_item)
    return spec.unit_cost * sum(1 for item in task.items if item.is_delivered)


_MAX_ID = 2**63 - 1


def canonical_id(pid: str | int) -> str:
    """An id as the server answers it: a well-formed one without leading zeros (``"007"`` → ``"7"``), anything
    else stripped and left for the server to classify."""
    text = str(pid).strip()
    if text.isascii() and text.isdigit() and len(text) <= 20 and 0 < int(text) <= _MAX_ID:
        return str(int(text))
    return text


def deduplicate(ids: Iterable[str | int]) -> list[str]:
    """The ids in canonical form, first occurrence of each person kept, order preserved."""
    return list(dict.fromkeys(canonical for canonical in map(canonical_id, ids) if canonical))


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _remaining_cap(store: StateStore, run: RunRecord) -> int | None:
    if run.max_credits is None:
        return None
    spent = sum(b.credits_charged or 0 for b in store.batches(run.run_id) if b.is_done)
    return run.max_credits - spent


def _person(item: ContactItem) -> PersonRecord:
    return PersonRecord(item.id, item.full_name, item.title, item.company_name)


def _unstarted(estimate: UnlockEstimate, status: str) -> UnlockResult:
    return UnlockResult(
        event_id=estimate.event_id,
        channel=estimate.channel,
        status=status,
        skipped=estimate.skipped,
        estimate=estimate,
    )
