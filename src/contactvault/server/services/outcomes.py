"""Recording resolved items: one transaction per batch, fenced by the lease, settling credits item by item."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from contactvault.server import faults, metrics
from contactvault.server.db import audit, ledger, locks, settlement, task_reads
from contactvault.server.db.engine import Transaction
from contactvault.server.db.queue import ClaimedItem, still_leased
from contactvault.server.db.unlocks import unlocked_ids
from contactvault.server.domain import ledger as rules
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.ledger import Channel, HoldPart, PostingKind, TaskHold
from contactvault.server.domain.resolution import INELIGIBLE, Outcome, Resolution
from contactvault.server.domain.settlement import ItemSettlement, settle_item
from contactvault.server.domain.tasks import ItemStatus, RetryPolicy
from contactvault.server.runtime import Runtime
from contactvault.server.services.suppressions import found_value_hashes, has_suppressions, suppressed_hashes
from contactvault.server.services.webhooks import announce_completed

# A deferral that did not say for how long (a resolver's bug) waits the greylisting default.
DEFAULT_DEFERRAL_SECONDS = 300.0


@dataclass(slots=True)
class _Task:
    id: int
    account_id: int
    hold: TaskHold


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What a record step did."""

    recorded: int
    retried: int
    lost: int
    task_ids: frozenset[int]


@dataclass(slots=True)
class _Writes:
    finals: list[settlement.FinalItem] = field(default_factory=list)
    retries: list[settlement.RetryItem] = field(default_factory=list)
    unlock_rows: list[settlement.UnlockRow] = field(default_factory=list)
    postings: list[ledger.Posting] = field(default_factory=list)
    audits: list[audit.AuditEntry] = field(default_factory=list)
    credit_moves: list[tuple[str, str, int]] = field(default_factory=list)  # (kind, channel, credits): metrics


def _load_tasks(conn: Transaction, task_ids: Sequence[int]) -> dict[int, _Task]:
    loaded: dict[int, _Task] = {}
    for t in task_reads.held_tasks(conn, task_ids):
        hold = TaskHold(
            rules.PRICES[Channel(t.channel)],
            t.max_credits,
            t.credits_held,
            t.credits_charged,
            t.credits_released,
            t.unfinished,
        )
        hold.parts.extend(HoldPart(bucket, amount, settled) for bucket, amount, settled in t.parts)
        loaded[t.id] = _Task(t.id, t.account_id, hold)
    return loaded


def record(
    rt: Runtime,
    claimed: Sequence[ClaimedItem],
    answers: Mapping[int, Resolution],
    policy: RetryPolicy,
    rng: random.Random,
) -> RecordResult:
    """Write every outcome whose lease is still ours; items whose lease was lost are left untouched."""
    if not claimed:
        return RecordResult(0, 0, 0, frozenset())
    now = rt.clock.now()
    owner = claimed[0].lease_owner
    with rt.db.write() as conn:
        # First: an erasure or suppression either committed before (the re-check below sees it) or waits for this
        # commit (and then removes what this batch stored).
        locks.suppression_gate(conn, exclusive=False)
        mine = still_leased(conn, owner, [c.id for c in claimed], now)
        items = sorted((c for c in claimed if c.id in mine), key=lambda c: c.id)
        if not items:
            return RecordResult(0, 0, len(claimed), frozenset())
        task_ids = sorted({i.task_id for i in items})
        loaded = _load_tasks(conn, task_ids)
        # Before any posting insert: every bucket this batch may capture from or release to, in id order.
        ledger.lock_buckets(conn, (p.bucket_id for t in loaded.values() for p in t.hold.parts))
        answers = _recheck_suppressions(rt, conn, items, answers)
        already = _already_unlocked(conn, items, answers)
        writes = _Writes()
        for item in items:
            _settle(loaded[item.task_id], item, answers.get(item.id), already, writes, policy, rng, now)
        _write(conn, writes, loaded, now)
        # The outbox row commits with the settlement that finished the task, or not at all.
        announce_completed(rt, conn, sorted(t.id for t in loaded.values() if t.hold.unfinished == 0), now)
        faults.hit("before_record_commit")
    _count(writes)  # committed: counted before anyone is woken to look
    rt.notifier.publish(task_ids)
    return RecordResult(len(writes.finals), len(writes.retries), len(claimed) - len(items), frozenset(task_ids))


def _recheck_suppressions(
    rt: Runtime, conn: Transaction, items: Sequence[ClaimedItem], answers: Mapping[int, Resolution]
) -> Mapping[int, Resolution]:
    """Check the opt-out list again inside the write: an erasure that committed after resolution still wins."""
    found = [i for i in items if (a := answers.get(i.id)) is not None and a.outcome is Outcome.FOUND]
    if not found or not has_suppressions(conn):
        return answers
    person = {i.id: rt.cipher.lookup_hash("person", str(i.personnel_id)) for i in found}
    # Both forms of the value: an opt-out recorded before canonical forms is listed under the legacy hash only.
    value = {
        i.id: found_value_hashes(rt.cipher, i.channel, answers[i.id].value_hash, answers[i.id].value_encrypted)
        for i in found
    }
    blocked = suppressed_hashes(conn, [*person.values(), *(h for hs in value.values() for h in sorted(hs))])
    if not blocked:
        return answers
    fresh = dict(answers)
    for i in found:
        if person[i.id] in blocked or not blocked.isdisjoint(value[i.id]):
            fresh[i.id] = INELIGIBLE
    return fresh


def _already_unlocked(
    conn: Transaction, items: Sequence[ClaimedItem], answers: Mapping[int, Resolution]
) -> set[tuple[int, int, str]]:
    wanted: dict[tuple[int, str], list[int]] = defaultdict(list)
    for item in items:
        answer = answers.get(item.id)
        if answer is not None and answer.outcome is Outcome.FOUND:
            wanted[(item.account_id, item.channel)].append(item.personnel_id)
    return {
        (account, pid, channel)
        for (account, channel), pids in wanted.items()
        for pid in unlocked_ids(conn, account, channel, pids)
    }


def _settle(
    task: _Task,
    item: ClaimedItem,
    answer: Resolution | None,
    already: set[tuple[int, int, str]],
    writes: _Writes,
    policy: RetryPolicy,
    rng: random.Random,
    now: datetime,
) -> None:
    outcome = answer.outcome if answer is not None else Outcome.TRANSIENT
    if outcome is Outcome.DEFERRED and answer is not None:
        # The lease is released and the claim's attempt given back: a deferral is not a failure.
        retry_at = now + timedelta(seconds=answer.retry_after or DEFAULT_DEFERRAL_SECONDS)
        writes.retries.append(settlement.RetryItem(item.id, retry_at, gives_back_attempt=True))
        return
    if outcome is Outcome.TRANSIENT:
        decision = policy.decide(item.attempts, rng)
        if decision.should_retry:
            writes.retries.append(settlement.RetryItem(item.id, now + decision.delay))
            return
    key = (item.account_id, item.personnel_id, item.channel)
    settled = settle_item(task.hold, outcome, already_unlocked=key in already)
    task.hold = settled.hold
    if settled.delivers and answer is not None:
        writes.unlock_rows.append(
            settlement.UnlockRow(
                item.account_id,
                item.personnel_id,
                item.channel,
                answer.value_encrypted,
                item.task_id,
                item.id,
                answer.source,
                answer.verification_status,
                answer.verification_score,
                answer.checked_at,
            )
        )
        already.add(key)
    _record_settlement(task, item, settled, writes)
    source = answer.source if answer is not None and settled.status is ItemStatus.UNLOCKED else None
    error = settled.error.value if settled.error else None
    writes.finals.append(settlement.FinalItem(item.id, settled.status.value, error, settled.charged, source))


def _count(writes: _Writes) -> None:
    """The metrics of a committed batch."""
    metrics.credits_moved(writes.credit_moves)
    for final in writes.finals:
        metrics.ITEMS_PROCESSED.labels(status=final.status).inc()
        if final.error_code:
            metrics.ITEMS_FAILED.labels(error_code=final.error_code).inc()
    if writes.retries:
        metrics.ITEM_RETRIES.inc(len(writes.retries))


def _record_settlement(task: _Task, item: ClaimedItem, settled: ItemSettlement, writes: _Writes) -> None:
    """The postings and audit rows of one settled item."""
    writes.credit_moves.append((PostingKind.CAPTURE.value, item.channel, sum(s.amount for s in settled.captured)))
    writes.credit_moves.append((PostingKind.RELEASE.value, item.channel, sum(s.amount for s in settled.released)))
    for s in settled.captured:
        writes.postings.append(
            ledger.Posting(task.account_id, s.bucket_id, PostingKind.CAPTURE, 0, -s.amount, "item", item.id, task.id)
        )
    if settled.status is ItemStatus.UNLOCKED:
        # One row records both facts of a delivery: the value was revealed, and ``credits`` were captured.
        writes.audits.append(
            audit.AuditEntry(
                AuditAction.CONTACT_REVEAL,
                task.account_id,
                "personnel",
                str(item.personnel_id),
                settled.charged,
                {"task": str(task.id), "item": str(item.id), "channel": item.channel},
            )
        )
    for s in settled.released:
        writes.postings.append(
            ledger.Posting(
                task.account_id, s.bucket_id, PostingKind.RELEASE, s.amount, -s.amount, "item", item.id, task.id
            )
        )
    if settled.released:
        writes.audits.append(
            audit.AuditEntry(
                AuditAction.CREDITS_RELEASE,
                task.account_id,
                "item",
                str(item.id),
                sum(s.amount for s in settled.released),
                {"task": str(task.id)},
            )
        )


def _write(conn: Transaction, writes: _Writes, loaded: dict[int, _Task], now: datetime) -> None:
    settlement.apply(
        conn,
        writes.finals,
        writes.retries,
        writes.unlock_rows,
        [settlement.HoldSettled(t.id, seq, p.settled) for t in loaded.values() for seq, p in enumerate(t.hold.parts)],
        [settlement.TaskTotals(t.id, t.hold.charged, t.hold.released, t.hold.unfinished) for t in loaded.values()],
        now,
    )
    ledger.post(conn, writes.postings, now)
    audit.record(conn, writes.audits, now)
