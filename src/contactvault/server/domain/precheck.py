"""Precheck rules: why an action would (not) go through, whether it charges, and its billing code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contactvault.server.domain.tasks import MAX_IDS_PER_TASK, Classification


class ReasonCode(StrEnum):
    """The precheck's verdict reasons (the wire's ``reason_code``)."""

    OK = "ok"
    ALREADY_UNLOCKED = "already_unlocked"
    UNLOCK_IN_PROGRESS = "unlock_in_progress"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    NO_CONTACTS_AVAILABLE = "no_contacts_available"
    EXCEED_MAX_UNLOCK_LIMIT = "exceed_max_unlock_limit"
    INVALID_SUBJECT = "invalid_subject"
    UNSUPPORTED_ACTION = "unsupported_action"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a precheck answers: the reason, whether the action is allowed and charges, and for how much."""

    reason: ReasonCode
    allowed: bool
    should_charge: bool
    credits: int


def over_limit(requested: int, limit: int = MAX_IDS_PER_TASK) -> bool:
    """Whether a request names more ids than one task may hold (counted as sent, before de-duplication)."""
    return requested > limit


def unlock_reason(result: Classification, *, available: int, price: int) -> ReasonCode:
    """Why an unlock of the classified ids would (not) go through, given the spendable balance.

    Chargeable ids decide alone (enough credits or not); otherwise the first matching reason wins: all already
    unlocked or in progress, then malformed ids only, then nothing to unlock.
    """
    if result.chargeable:
        enough = available >= price * len(result.chargeable)
        return ReasonCode.OK if enough else ReasonCode.INSUFFICIENT_BALANCE
    if result.already_unlocked:
        return ReasonCode.ALREADY_UNLOCKED
    if result.unlocking:
        return ReasonCode.UNLOCK_IN_PROGRESS
    if result.invalid and not (result.missing or result.unlinked):
        return ReasonCode.INVALID_SUBJECT
    return ReasonCode.NO_CONTACTS_AVAILABLE


def verdict(reason: ReasonCode, credits: int) -> Verdict:
    """Allowed only when the reason is ``ok``; charged only when allowed and it costs something."""
    allowed = reason is ReasonCode.OK
    return Verdict(reason, allowed, allowed and credits > 0, credits)


def biz_code(action: str, *, should_charge: bool) -> str:
    """Lensmor's billing code of the execution path (a string): the action itself, or "" when nothing is charged."""
    return action if should_charge else ""
