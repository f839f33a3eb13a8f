"""What a task finally charges follows the spend order, whatever order its items settle in."""

from __future__ import annotations

from datetime import timedelta

from contactvault.server.domain.ledger import BucketKind
from contactvault.server.runtime import Runtime
from contactvault.server.services import credits
from tests.engine import assert_reconciles, drain, submit, task
from tests.factories import make_account


def test_a_failed_item_settled_first_gives_back_the_addon_not_the_subscription(directory: Runtime) -> None:
    account = make_account(directory, credit=0)
    tomorrow = directory.clock.now() + timedelta(days=1)
    credits.grant(directory, account.id, 15, BucketKind.SUBSCRIPTION, tomorrow)
    credits.grant(directory, account.id, 15, BucketKind.ADDON)
    body = submit(directory, account, ["10", "1"])  # person 10 has no email: item 10 fails first, then 1 delivers
    assert drain(directory) == 2
    result = task(directory, account, str(body["task_id"]))
    assert (result["creditsCharged"], result["creditsReleased"]) == (15, 15)
    view = credits.balance(directory, account.id)
    # The one delivery is paid from the subscription (spent first, expires first); the add-on is untouched.
    assert (view.subscription_balance, view.addon_balance, view.reserved) == (0, 15, 0)
    assert_reconciles(directory)
