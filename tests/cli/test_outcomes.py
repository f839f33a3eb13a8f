"""The exit-code rules of ``unlock`` and ``tasks resume``, on results built by hand."""

from __future__ import annotations

import pytest

from contactvault.cli.client.unlock import Outcome, classify
from contactvault.client import DeliveredContact, FailedContact, SkippedContact, UnlockResult


def result(delivered: int = 0, failed: int = 0, skipped: tuple[str, ...] = ()) -> UnlockResult:
    return UnlockResult(
        event_id="100",
        channel="email",
        status="completed",
        delivered=tuple(DeliveredContact(str(i), "email", "100", f"p{i}@x.test") for i in range(delivered)),
        failed={"UNRESOLVED": tuple(FailedContact(str(100 + i), "UNRESOLVED") for i in range(failed))}
        if failed
        else {},
        skipped=tuple(SkippedContact(str(200 + i), reason) for i, reason in enumerate(skipped)),
    )


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([result(delivered=3)], Outcome("delivered", 0)),
        ([result(skipped=("already_unlocked",))], Outcome("nothing_to_unlock", 0)),
        ([result(delivered=3, skipped=("not_found", "already_unlocked"))], Outcome("delivered", 0)),
        ([result(delivered=2, failed=1)], Outcome("partial", 4)),
        ([result(failed=2)], Outcome("failed", 1)),
        ([result(delivered=2, skipped=("insufficient_credits",))], Outcome("insufficient_credits", 3)),
        ([result(delivered=2, failed=1, skipped=("insufficient_credits",))], Outcome("insufficient_credits", 3)),
        # Several resumed runs count as one: all of one run failed, all of another delivered -> partial.
        ([result(failed=2), result(delivered=1)], Outcome("partial", 4)),
        ([], Outcome("nothing_to_unlock", 0)),
    ],
)
def test_exit_code_rules(results: list[UnlockResult], expected: Outcome) -> None:
    assert classify(results) == expected
