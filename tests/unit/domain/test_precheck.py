"""Precheck rules, on plain data: the reason code, allowed, should_charge, credits, and the billing code."""

from __future__ import annotations

from typing import get_args

import pytest

from contactvault.server.api import precheck_schemas
from contactvault.server.domain.precheck import (
    ReasonCode,
    Verdict,
    biz_code,
    over_limit,
    unlock_reason,
    verdict,
)
from contactvault.server.domain.tasks import MAX_IDS_PER_TASK, Classification


def test_chargeable_ids_are_ok_when_the_balance_covers_them() -> None:
    result = Classification(chargeable=["1", "2"], already_unlocked=["3"])
    assert unlock_reason(result, available=30, price=15) is ReasonCode.OK
    assert unlock_reason(result, available=29, price=15) is ReasonCode.INSUFFICIENT_BALANCE


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (Classification(already_unlocked=["1"], unlocking=["2"], invalid=["x"]), ReasonCode.ALREADY_UNLOCKED),
        (Classification(unlocking=["2"], invalid=["x"]), ReasonCode.UNLOCK_IN_PROGRESS),
        (Classification(invalid=["x"]), ReasonCode.INVALID_SUBJECT),
        (Classification(invalid=["x"], missing=["9"]), ReasonCode.NO_CONTACTS_AVAILABLE),
        (Classification(invalid=["x"], unlinked=["8"]), ReasonCode.NO_CONTACTS_AVAILABLE),
        (Classification(), ReasonCode.NO_CONTACTS_AVAILABLE),
    ],
)
def test_without_chargeable_ids_the_first_matching_reason_wins(result: Classification, reason: ReasonCode) -> None:
    assert unlock_reason(result, available=0, price=15) is reason


def test_only_ok_is_allowed_and_only_an_allowed_cost_charges() -> None:
    assert verdict(ReasonCode.OK, 30) == Verdict(ReasonCode.OK, True, True, 30)
    assert verdict(ReasonCode.OK, 0) == Verdict(ReasonCode.OK, True, False, 0)
    assert verdict(ReasonCode.INSUFFICIENT_BALANCE, 30) == Verdict(ReasonCode.INSUFFICIENT_BALANCE, False, False, 30)
    assert all(not verdict(r, 15).allowed for r in ReasonCode if r is not ReasonCode.OK)


def test_biz_code_is_the_action_when_charged_else_empty() -> None:
    assert biz_code("unlock_contact_emails", should_charge=True) == "unlock_contact_emails"
    assert biz_code("unlock_contact_emails", should_charge=False) == ""


def test_the_limit_counts_ids_as_sent() -> None:
    assert not over_limit(MAX_IDS_PER_TASK)
    assert over_limit(MAX_IDS_PER_TASK + 1)


def test_the_wire_enum_lists_exactly_the_domain_reasons() -> None:
    assert set(get_args(precheck_schemas.ReasonCode)) == {r.value for r in ReasonCode}
