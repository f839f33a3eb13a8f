"""Unlock tasks and items: their lifecycle, error codes, id classification and the retry policy.

The lifecycle: a task is ``pending`` until the worker claims one of its items, ``processing`` while any item is
unfinished, and ``completed`` once every item is terminal (``unlocked`` or ``failed``, each with its own error
code). A task is never ``failed``: a task whose items all failed is ``completed``, item by item, as the contract
says (the wire enum keeps ``failed`` for compatibility only).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum


class TaskStatus(StrEnum):
    """Where a task is in its lifecycle."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"

    @property
    def is_terminal(self) -> bool:
        """Whether the task has finished (nothing about it changes any more)."""
        return self is TaskStatus.COMPLETED


class ItemStatus(StrEnum):
    """Where one item of a task is in its lifecycle."""

    PENDING = "pending"
    PROCESSING = "processing"
    UNLOCKED = "unlocked"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        """Whether the item has reached its final state."""
        return self in (ItemStatus.UNLOCKED, ItemStatus.FAILED)


# Items the worker still has to resolve, and the statuses a task can be in before it completes.
UNFINISHED_ITEM_STATUSES = tuple(s for s in ItemStatus if not s.is_terminal)


def task_status_after(unfinished: int) -> TaskStatus:
    """A task's status once a batch settled its items: completed when none is left unfinished."""
    if unfinished < 0:
        raise ValueError("unfinished must be >= 0")
    return TaskStatus.COMPLETED if unfinished == 0 else TaskStatus.PROCESSING


class ErrorCode(StrEnum):
    """Why an item failed."""

    UNRESOLVED = "UNRESOLVED"
    INELIGIBLE = "INELIGIBLE"
    CREDIT_CAP_REACHED = "CREDIT_CAP_REACHED"
    TASK_FAILED = "TASK_FAILED"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"


MAX_IDS_PER_TASK = 100
_PERSONNEL_ID = re.compile(r"[0-9]{1,20}")
_MAX_ID = 2**63 - 1


def parse_person_id(raw: str) -> int | None:
    """The integer id behind a digit string, or ``None`` when it is malformed."""
    if not _PERSONNEL_ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if 0 < value <= _MAX_ID else None


def parse_event_id(raw: str) -> int | None:
    """An event's id from the wire (the same digit-string rule as a person's); ``None`` when malformed."""
    return parse_person_id(raw)


def parse_task_id(raw: str) -> int | None:
    """A task's id from the wire (the same digit-string rule as a person's); ``None`` when malformed."""
    return parse_person_id(raw)


# A malformed id is echoed back (as invalid) at most this long, so that no reply or stored reply grows with it.
MAX_ECHOED_ID = 32
CUT_MARKER = "\u2026"  # "…"


def echoable(raw: str, limit: int = MAX_ECHOED_ID) -> str:
    """``raw`` as it may be echoed: whole when it has at most ``limit`` characters, else its first ``limit - 1``
    characters and "…"."""
    return raw if len(raw) <= limit else raw[: limit - 1] + CUT_MARKER


def canonical_id(raw: str) -> str:
    """A well-formed id without its leading zeros (``"007"`` → ``"7"``); a malformed one cut by ``echoable``."""
    pid = parse_person_id(raw)
    return echoable(raw) if pid is None else str(pid)


def dedupe(ids: Iterable[str]) -> list[str]:
    """Ids in canonical form, first-seen order, without repeats: ``"7"`` and ``"07"`` are one person."""
    return list(parse_person_ids(ids).order)


@dataclass(frozen=True, slots=True)
class PersonIds:
    """Personnel ids as sent, parsed once: canonical spellings in first-seen order, and the integer of each
    well-formed one."""

    order: tuple[str, ...]
    parsed: dict[str, int]

    @property
    def pks(self) -> list[int]:
        """The integer ids of the well-formed ones, in order."""
        return list(self.parsed.values())


def parse_person_ids(ids: Iterable[str]) -> PersonIds:
    """De-duplicate and parse (each raw id is parsed exactly once)."""
    order: dict[str, None] = {}
    parsed: dict[str, int] = {}
    for raw in ids:
        pid = parse_person_id(raw)
        key = echoable(raw) if pid is None else str(pid)
        order.setdefault(key, None)
        if pid is not None:
            parsed.setdefault(key, pid)
    return PersonIds(tuple(order), parsed)


@dataclass(slots=True)
class Classification:
    """How the ids of one submission were sorted."""

    invalid: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unlinked: list[str] = field(default_factory=list)
    already_unlocked: list[str] = field(default_factory=list)
    unlocking: list[str] = field(default_factory=list)
    chargeable: list[str] = field(default_factory=list)
    chargeable_pks: list[int] = field(default_factory=list)

    def skipped(self, order: Sequence[str]) -> list[str]:
        """Every well-formed skipped id, in the order the caller sent them (malformed ones are listed once, in
        ``invalid``, so that nothing sent is echoed twice)."""
        shown = set(self.chargeable) | set(self.invalid)
        return [i for i in order if i not in shown]

    def skipped_detail(self) -> dict[str, list[str]]:
        """The skipped ids by reason (the wire's ``skipped_detail``)."""
        return {
            "invalid_personnel_ids": self.invalid,
            "missing_personnel_ids": self.missing,
            "unlinked_personnel_ids": self.unlinked,
            "already_unlocked_personnel_ids": self.already_unlocked,
            "unlocking_personnel_ids": self.unlocking,
        }


def classify(
    ids: Sequence[str] | PersonIds,
    *,
    known: set[int],
    linked: set[int],
    unlocked: set[int],
    in_flight: set[int],
) -> Classification:
    """Sort de-duplicated ids into the contract's buckets, first matching reason wins."""
    people = ids if isinstance(ids, PersonIds) else parse_person_ids(ids)
    result = Classification()
    for raw in people.order:
        pid = people.parsed.get(raw)
        if pid is None:
            result.invalid.append(raw)
        elif pid not in known:
            result.missing.append(raw)
        elif pid not in linked:
            result.unlinked.append(raw)
        elif pid in unlocked:
            result.already_unlocked.append(raw)
        elif pid in in_flight:
            result.unlocking.append(raw)
        else:
            result.chargeable.append(raw)
            result.chargeable_pks.append(pid)
    return result


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do after a transient failure: retry after ``delay``, or give up."""

    should_retry: bool
    delay: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, up to ``max_attempts`` attempts."""

    max_attempts: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 30.0

    def decide(self, attempts: int, rng: random.Random) -> RetryDecision:
        """The decision after ``attempts`` attempts have failed."""
        if attempts >= self.max_attempts:
            return RetryDecision(should_retry=False)
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (attempts - 1))
        return RetryDecision(should_retry=True, delay=timedelta(seconds=rng.uniform(0, ceiling)))


# Who submitted a task, from its ``x-call-source`` header: these are recorded as sent (any case), anything else or
# nothing as ``api``. ``agent`` also holds the submission to the key's guardrails.
CALL_SOURCES = frozenset({"api", "agent", "cli", "console"})


def call_source_of(header: str | None) -> str:
    """The call source recorded for a submission sent with ``x-call-source: header``."""
    sent = (header or "").strip().lower()
    return sent if sent in CALL_SOURCES else "api"
