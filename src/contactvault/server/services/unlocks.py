"""Unlock use cases: submit a task (classify, check the balance, hold credits), read it, precheck.

They return typed values (``SubmitResult``, ``PrecheckResult``, ``TaskView``); ``api/mappers.py`` alone turns them
into wire bodies.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contactvault.server import faults, metrics
from contactvault.server.db import audit, guardrails, ledger, queue, task_reads
from contactvault.server.db import quotes as stored_quotes
from contactvault.server.db.engine import Conflict, StorageError, Transaction
from contactvault.server.db.unlocks import standing
from contactvault.server.domain import guardrails as rails
from contactvault.server.domain import ledger as rules
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InsufficientCredits, NotFound, PriceChanged
from contactvault.server.domain.ledger import Channel, PostingKind
from contactvault.server.domain.precheck import ReasonCode, unlock_reason
from contactvault.server.domain.quotes import Priced, is_live, price_changes
from contactvault.server.domain.scoring import VerificationMin
from contactvault.server.domain.tasks import (
    Classification,
    ItemStatus,
    PersonIds,
    TaskStatus,
    classify,
    parse_event_id,
    parse_person_ids,
)
from contactvault.server.runtime import Runtime
from contactvault.server.services import idempotency, sealed
from contactvault.server.services.idempotency import Claim, Replay

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
    quote_id: int | None = None  # confirm this quote: refused unless its ids and credits still hold
    key_id: str | None = None  # the API key it came with: an agent-sourced submission is held to its guardrails
    # The task's floor for values the engine finds (pattern, provider); None = the operator's default policy.
    verification_min: VerificationMin | None = None


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What a submission did: a task (``task_id``) holding credits for ``classification.chargeable``, or nothing
    to charge (``task_id`` None); ``skipped`` lists every well-formed skipped id in the order sent."""

    task_id: int | None
    skipped: list[str]
    classification: Classification


# The reply an entrypoint sends for a result (status, body): stored with the task under an idempotency key.
Render = Callable[[SubmitResult], tuple[int, dict[str, Any]]]


def _classify(conn: Transaction, account_id: int, channel: Channel, event_id: int, ids: PersonIds) -> Classification:
    found = standing(conn, account_id, channel.value, event_id, ids.pks)
    return classify(ids, known=found.known, linked=found.linked, unlocked=found.unlocked, in_flight=found.in_flight)


def _require_event(conn: Transaction, event_id: int | None) -> int:
    if event_id is None or not task_reads.event_exists(conn, event_id):
        raise NotFound("Event not found.")  # never echoed: any string up to 100 characters
    return event_id


def submit(rt: Runtime, req: UnlockRequest) -> SubmitResult:
    """Create a task and hold its credits in one transaction."""
    return _submit(rt, req, None)


def submission_fingerprint(channel: Channel, sent: Mapping[str, Any]) -> bytes:
    """What makes two submissions under one idempotency key "the same": the channel and the body as sent (keys
    sorted)."""
    return idempotency.fingerprint(channel.value, json.dumps(dict(sent), sort_keys=True))


def submit_idempotent(
    rt: Runtime, req: UnlockRequest, key: str, fingerprint: bytes, render: Render
) -> SubmitResult | Replay:
    """``submit`` under an idempotency key: the first reply to (account, key) is stored, as ``render`` makes it,
    in the submission's own transaction, and later calls get it back as a ``Replay``; a submission that fails
    gives the key back (nothing was stored) so that a retry runs at once."""
    claim = idempotency.begin(rt, req.account_id, key, fingerprint)
    if isinstance(claim, Replay):
        return claim
    try:
        return submit_claimed(rt, req, claim, render)
    except Exception:
        # If the database itself is down this fails too, and the claim is taken over once it goes stale.
        with contextlib.suppress(StorageError):
            idempotency.abandon(rt, claim)
        raise


def submit_claimed(rt: Runtime, req: UnlockRequest, claim: Claim, render: Render) -> SubmitResult:
    """``submit`` storing its reply under a key already claimed (raises, rolling back, if the claim was taken
    over)."""
    return _submit(rt, req, (claim, render))


def _submit(rt: Runtime, req: UnlockRequest, idem: tuple[Claim, Render] | None) -> SubmitResult:
    ids = parse_person_ids(req.personnel_ids)  # the only parse of these ids on the submit path
    event_id = parse_event_id(req.event_id)
    for attempt in range(SUBMIT_RETRIES):
        try:
            return _submit_once(rt, req, event_id, ids, idem)
        except Conflict:
            # Another submission took one of these people between our read and our write (PostgreSQL only;
            # SQLite serialises writers). Classify again: they now count as "unlocking".
            if attempt == SUBMIT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _submit_once(
    rt: Runtime, req: UnlockRequest, event_pk: int | None, ids: PersonIds, idem: tuple[Claim, Render] | None
) -> SubmitResult:
    now = rt.clock.now()
    price = rules.PRICES[req.channel]
    with rt.db.write() as conn:
        event_id = _require_event(conn, event_pk)
        # The account's buckets are locked before anything else (in id order, like every transaction that touches
        # them): submissions of one account queue here, so the classification below sees the items of the one
        # before (no unique violation on the in-flight index), and no ledger insert can come between the locks.
        buckets = ledger.buckets_of(conn, req.account_id, lock=True)
        sorted_ids = _classify(conn, req.account_id, req.channel, event_id, ids)
        if req.quote_id is not None:
            now_priced = Priced(event_id, tuple(sorted(sorted_ids.chargeable_pks)), price * len(sorted_ids.chargeable))
            _hold_to_quote(conn, req, req.quote_id, now_priced, now)
        task_id = None
        hold = rules.hold_for(price, len(sorted_ids.chargeable), req.max_credits) if sorted_ids.chargeable else 0
        _hold_to_guardrails(conn, req, hold, now)
        if sorted_ids.chargeable:
            slices = rules.allocate(buckets, hold, now)
            if slices is None:
                available = sum(b.balance for b in rules.spendable(buckets, now))
                raise InsufficientCredits(required=hold, available=available)
            task_id = rt.ids.new_id()
            _insert_task(conn, req, task_id, event_id, sorted_ids.chargeable_pks, hold, slices, now)
            if req.call_source == rails.AGENT and req.key_id is not None:
                guardrails.tag_task(conn, task_id, req.key_id)
        result = SubmitResult(task_id, sorted_ids.skipped(list(ids.order)), sorted_ids)
        if idem:
            claim, render = idem
            claim.complete(conn, *render(result), now)
        if task_id is not None:
            faults.hit("before_submit_commit")
    if task_id is not None:
        metrics.credits_moved([(PostingKind.HOLD.value, req.channel.value, hold)])
        rt.notifier.kick_worker()
    return result


def _hold_to_quote(conn: Transaction, req: UnlockRequest, quote_id: int, now_priced: Priced, now: datetime) -> None:
    """Raise unless the quote is this account's on this channel, live, and still the price (NotFound otherwise:
    an unknown, expired or another account's quote look the same)."""
    quote = stored_quotes.find(conn, quote_id, req.account_id, req.channel.value)
    if quote is None or not is_live(quote.expires_at, now):
        raise NotFound("Quote not found.")
    changes = price_changes(Priced(quote.event_id, quote.personnel_ids, quote.credits), now_priced)
    if changes is not None:
        raise PriceChanged(changes)


def _hold_to_guardrails(conn: Transaction, req: UnlockRequest, hold: int, now: datetime) -> None:
    """Raise unless the key's guardrails let an agent hold ``hold`` more credits now. Called after the account's
    buckets are locked: the day's spending it sums cannot change under it (two confirms cannot both pass)."""
    if req.call_source != rails.AGENT or req.key_id is None:
        return
    limits = guardrails.of_key(conn, req.key_id)
    spent = guardrails.agent_spent_since(conn, req.key_id, rails.day_start(now)) if limits.limits_spending else 0
    rails.check_agent_spend(limits, hold, spent)


def _insert_task(
    conn: Transaction,
    req: UnlockRequest,
    task_id: int,
    event_id: int,
    chargeable: list[int],
    hold: int,
    slices: list[rules.Slice],
    now: datetime,
) -> None:
    queue.create_task(
        conn,
        queue.NewTask(
            task_id,
            req.account_id,
            event_id,
            req.channel.value,
            req.call_source,
            req.max_credits,
            hold,
            req.trace_id,
            req.verification_min.value if req.verification_min else None,
        ),
        chargeable,
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


@dataclass(frozen=True, slots=True)
class PrecheckResult:
    """What a submission would do; ``classification`` is None when the event does not exist."""

    reason_code: ReasonCode
    credits: int
    requested_count: int
    classification: Classification | None
    available_balance: int
    unit_cost: int
    event_id: int | None = None

    @property
    def allowed(self) -> bool:
        """Whether the submission would go through."""
        return self.reason_code is ReasonCode.OK


def precheck(
    rt: Runtime, account_id: int, channel: Channel, event_id_raw: str, personnel_ids: Sequence[str]
) -> PrecheckResult:
    """What a submission would do, reserving nothing."""
    ids = parse_person_ids(personnel_ids)
    requested = len(ids.order)
    price = rules.PRICES[channel]
    now = rt.clock.now()
    event_id = parse_event_id(event_id_raw)
    with rt.db.read() as conn:
        if event_id is None or not task_reads.event_exists(conn, event_id):
            return PrecheckResult(ReasonCode.NOT_FOUND, 0, requested, None, 0, price)
        result = _classify(conn, account_id, channel, event_id, ids)
        available = sum(b.balance for b in rules.spendable(ledger.buckets_of(conn, account_id), now))
    credits = price * len(result.chargeable)
    reason = unlock_reason(result, available=available, price=price)
    return PrecheckResult(reason, credits, requested, result, available, price, event_id)


@dataclass(frozen=True, slots=True)
class VerificationView:
    """How sure we are a revealed value delivers (as stored: ``None`` where never checked)."""

    status: str | None
    score: int | None
    checked_at: datetime | None


@dataclass(frozen=True, slots=True)
class ItemView:
    """One item of a task as its owner sees it; ``value``/``verification`` only for a revealed value, and
    ``unreadable`` when the value was delivered but no configured key opens it."""

    personnel_id: int
    status: str
    error_code: str | None
    credits_charged: int
    source: str | None
    completed_at: datetime | None
    value: str | None = None
    verification: VerificationView | None = None
    unreadable: bool = False


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task as its owner sees it, at ``version`` (every change to what it shows bumps the version)."""

    task_id: int
    channel: Channel
    status: str
    version: int
    items: tuple[ItemView, ...]
    credits_held: int
    credits_charged: int
    credits_released: int
    created_at: datetime
    completed_at: datetime | None

    @property
    def terminal(self) -> bool:
        """Whether the task is finished."""
        return TaskStatus(self.status).is_terminal

    @property
    def cacheable(self) -> bool:
        """A finished view with every value readable (a value that no key opens may open once the key is put
        back, which bumps no version)."""
        return self.terminal and not any(i.unreadable for i in self.items)


def get_task(rt: Runtime, account_id: int, task_id: int, channel: Channel | None = None) -> TaskView:
    """A task as its owner sees it; another account's task (or, when ``channel`` is given, the other channel's)
    is not found."""
    with rt.db.read() as conn:
        task = task_reads.task(conn, task_id)
        if task is None or task.account_id != account_id or channel not in (None, Channel(task.channel)):
            raise NotFound("Task not found.")
        channel = Channel(task.channel)
        rows = task_reads.items(conn, task_id)
        shown = sealed.show(
            rt,
            conn,
            [
                sealed.Sealed(r.unlock_id, r.personnel_id, channel.value, r.value_encrypted)
                for r in rows
                if r.status == ItemStatus.UNLOCKED and r.value_encrypted is not None and r.unlock_id is not None
            ],
        )
    items = tuple(_item(r, shown.get(r.unlock_id) if r.unlock_id is not None else None) for r in rows)
    return TaskView(
        task_id,
        channel,
        task.status,
        task.version,
        items,
        task.credits_held,
        task.credits_charged,
        task.credits_released,
        task.created_at,
        task.completed_at,
    )


def _item(r: task_reads.ItemRow, shown: sealed.Shown | None) -> ItemView:
    value = None if shown is None else shown.value
    verification = (
        None if value is None else VerificationView(r.verification_status, r.verification_score, r.checked_at)
    )
    return ItemView(
        r.personnel_id,
        r.status,
        r.error_code,
        r.credits_charged,
        r.source,
        r.completed_at,
        value,
        verification,
        shown is not None and shown.unreadable,
    )


def task_version(rt: Runtime, account_id: int, task_id: int) -> tuple[int, bool] | None:
    """A cheap look at a task's version and whether it is terminal (for long-polling)."""
    with rt.db.read() as conn:
        found = task_reads.version(conn, account_id, task_id)
    return None if found is None else (found[0], TaskStatus(found[1]).is_terminal)
