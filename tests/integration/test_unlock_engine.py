"""The unlock engine end to end below HTTP: submit, hold, resolve, capture or release, reconcile."""

from __future__ import annotations

import pytest

from contactvault.server.api import mappers
from contactvault.server.clock import FakeClock
from contactvault.server.db import tables
from contactvault.server.domain.errors import InsufficientCredits, NotFound
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import credits, directory, suppressions
from contactvault.server.worker.resolvers.base import Outcome
from contactvault.server.worker.resolvers.fake import FakeResolver
from tests.engine import assert_reconciles, balance, count, drain, submit, task
from tests.factories import SMALL_EVENT, Account, email_of, make_account, phone_of


def test_submit_holds_fifteen_per_chargeable_person(directory: Runtime, account: Account) -> None:
    body = submit(directory, account, [1, 2, 3])
    assert body["status"] == "accepted"
    view = credits.balance(directory, account.id)
    assert view.total_balance == 10_000 - 45
    assert view.reserved == 45
    assert task(directory, account, str(body["task_id"]))["taskStatus"] == "pending"
    assert_reconciles(directory)


def test_only_delivered_contacts_are_charged(directory: Runtime, account: Account) -> None:
    # Person 10 and 20 have no email in the vault.
    body = submit(directory, account, [1, 10, 2, 20, 3])
    assert drain(directory) == 5
    result = task(directory, account, str(body["task_id"]))
    assert result["taskStatus"] == "completed"
    statuses = [(i["personnelId"], i["status"], i.get("errorCode")) for i in result["items"]]
    assert statuses == [
        ("1", "unlocked", None),
        ("10", "failed", "UNRESOLVED"),
        ("2", "unlocked", None),
        ("20", "failed", "UNRESOLVED"),
        ("3", "unlocked", None),
    ]
    assert result["items"][0]["email"] == email_of(1)
    assert (result["creditsHeld"], result["creditsCharged"], result["creditsReleased"]) == (75, 45, 30)
    assert balance(directory, account) == 10_000 - 45
    assert credits.balance(directory, account.id).reserved == 0
    assert_reconciles(directory)


def test_phone_unlocks_cost_150_and_carry_phone(directory: Runtime, account: Account) -> None:
    body = submit(directory, account, [3, 4], channel=Channel.PHONE)  # 3 has a phone, 4 has none
    drain(directory)
    result = task(directory, account, str(body["task_id"]), Channel.PHONE)
    assert result["items"][0]["phone"] == phone_of(3)
    assert result["items"][1]["errorCode"] == "UNRESOLVED"
    assert balance(directory, account) == 10_000 - 150
    with pytest.raises(NotFound):
        task(directory, account, str(body["task_id"]), Channel.EMAIL)


def test_insufficient_balance_is_402_and_leaves_nothing(directory: Runtime) -> None:
    poor = make_account(directory, credit=29)
    tasks_before, ledger_before = count(directory, tables.tasks), count(directory, tables.ledger_entries)
    with pytest.raises(InsufficientCredits) as err:
        submit(directory, poor, [1, 2])
    assert (err.value.required, err.value.available) == (30, 29)
    assert count(directory, tables.tasks) == tasks_before
    assert count(directory, tables.task_items) == 0
    assert count(directory, tables.ledger_entries) == ledger_before
    assert balance(directory, poor) == 29


def test_nothing_chargeable_answers_success_without_a_task(directory: Runtime, account: Account) -> None:
    body = submit(directory, account, ["abc", "999999", "250"], event=SMALL_EVENT)
    assert body["status"] == "success"
    assert "task_id" not in body
    assert body["skipped_detail"] == {
        "invalid_personnel_ids": ["abc"],
        "missing_personnel_ids": ["999999"],
        "unlinked_personnel_ids": ["250"],
        "already_unlocked_personnel_ids": [],
        "unlocking_personnel_ids": [],
    }
    assert count(directory, tables.tasks) == 0


def test_unknown_event_is_not_found(directory: Runtime, account: Account) -> None:
    with pytest.raises(NotFound):
        submit(directory, account, [1], event=424242)


def test_same_person_twice_in_one_batch_is_one_item(directory: Runtime, account: Account) -> None:
    body = submit(directory, account, [1, 1, 1])
    assert len(task(directory, account, str(body["task_id"]))["items"]) == 1
    assert balance(directory, account) == 10_000 - 15


def test_a_person_is_never_charged_twice_across_batches(directory: Runtime, account: Account) -> None:
    first = submit(directory, account, [1, 2])
    second = submit(directory, account, [2, 3])
    assert second["skipped_detail"]["unlocking_personnel_ids"] == ["2"]  # type: ignore[index]
    drain(directory)
    third = submit(directory, account, [1, 2, 3])
    assert third["status"] == "success"
    assert third["skipped_detail"]["already_unlocked_personnel_ids"] == ["1", "2", "3"]  # type: ignore[index]
    assert balance(directory, account) == 10_000 - 45
    assert task(directory, account, str(first["task_id"]))["creditsCharged"] == 30
    assert_reconciles(directory)


def test_accounts_are_charged_independently(directory: Runtime, account: Account, other_account: Account) -> None:
    submit(directory, account, [1])
    submit(directory, other_account, [1])
    drain(directory)
    assert balance(directory, account) == balance(directory, other_account) == 10_000 - 15
    assert_reconciles(directory)


def test_unlocked_contact_is_visible_to_its_account_only(
    directory: Runtime, account: Account, other_account: Account
) -> None:
    body = submit(directory, account, [1])
    assert directory_profile(directory, account, 1)["contactUnlockStatus"] == "unlocking"
    drain(directory)
    mine = directory_profile(directory, account, 1)
    theirs = directory_profile(directory, other_account, 1)
    assert (mine["email"], mine["contactUnlockStatus"]) == (email_of(1), "unlocked")
    assert (theirs["email"], theirs["contactUnlockStatus"]) == (None, "locked")
    assert task(directory, account, str(body["task_id"]))["taskStatus"] == "completed"
    with pytest.raises(NotFound):
        task(directory, other_account, str(body["task_id"]))


def directory_profile(rt: Runtime, account: Account, pid: int) -> dict[str, object]:
    """A person as ``account`` sees them."""
    return mappers.contact_item(directory.profile(rt, account.id, pid))


def test_failed_item_shows_failed_status(directory: Runtime, account: Account) -> None:
    submit(directory, account, [10])  # no email
    drain(directory)
    assert directory_profile(directory, account, 10)["contactUnlockStatus"] == "failed"


def test_transient_errors_retry_with_backoff_then_deliver(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    fake = FakeResolver(directory.cipher, transient_failures={1: 2})
    body = submit(directory, account, [1, 2])
    drain(directory, [fake])
    result = task(directory, account, str(body["task_id"]))
    # Person 1 is waiting for its retry (back in the queue), person 2 is done.
    assert [i["status"] for i in result["items"]] == ["pending", "unlocked"]
    for _ in range(5):
        clock.advance(60)
        drain(directory, [fake])
    result = task(directory, account, str(body["task_id"]))
    assert [i["status"] for i in result["items"]] == ["unlocked", "unlocked"]
    assert fake.calls[1] == 3
    assert balance(directory, account) == 10_000 - 30
    assert_reconciles(directory)


def test_transient_errors_past_the_limit_fail_uncharged(directory: Runtime, account: Account, clock: FakeClock) -> None:
    fake = FakeResolver(directory.cipher, outcomes={1: Outcome.TRANSIENT})
    body = submit(directory, account, [1])
    for _ in range(10):
        drain(directory, [fake])
        clock.advance(60)
    result = task(directory, account, str(body["task_id"]))
    assert result["items"][0]["status"] == "failed"
    assert result["items"][0]["errorCode"] == "TASK_FAILED"
    assert fake.calls[1] == directory.settings.worker_max_attempts
    assert balance(directory, account) == 10_000
    assert_reconciles(directory)


def test_ineligible_people_fail_uncharged(directory: Runtime, account: Account) -> None:
    fake = FakeResolver(directory.cipher, outcomes={2: Outcome.INELIGIBLE})
    body = submit(directory, account, [1, 2])
    drain(directory, [fake])
    items = task(directory, account, str(body["task_id"]))["items"]
    assert [i.get("errorCode") for i in items] == [None, "INELIGIBLE"]
    assert balance(directory, account) == 10_000 - 15


def test_suppressed_person_is_never_revealed_or_charged(directory: Runtime, account: Account) -> None:
    suppressions.suppress(directory, "person", "1")
    body = submit(directory, account, [1, 2])
    assert body["status"] == "accepted"  # the submission does not reveal who opted out
    drain(directory)
    items = task(directory, account, str(body["task_id"]))["items"]
    assert items[0]["status"] == "failed"
    assert items[0]["errorCode"] == "INELIGIBLE"
    assert "email" not in items[0]
    assert balance(directory, account) == 10_000 - 15
    assert_reconciles(directory)


def test_suppressed_address_is_never_revealed_whoever_finds_it(directory: Runtime, account: Account) -> None:
    suppressions.suppress(directory, "email", email_of(2).upper())
    body = submit(directory, account, [2])
    drain(directory)
    assert task(directory, account, str(body["task_id"]))["items"][0]["errorCode"] == "INELIGIBLE"
    assert balance(directory, account) == 10_000


def test_spend_cap_fails_items_beyond_it_uncharged(directory: Runtime, account: Account) -> None:
    body = submit(directory, account, [1, 10, 2, 3, 4], max_credits=40)  # 10 has no email
    assert credits.balance(directory, account.id).reserved == 30
    drain(directory)
    result = task(directory, account, str(body["task_id"]))
    codes = [(i["status"], i.get("errorCode")) for i in result["items"]]
    assert codes == [
        ("unlocked", None),
        ("failed", "UNRESOLVED"),
        ("unlocked", None),
        ("failed", "CREDIT_CAP_REACHED"),
        ("failed", "CREDIT_CAP_REACHED"),
    ]
    assert result["creditsCharged"] == 30
    assert balance(directory, account) == 10_000 - 30
    assert_reconciles(directory)


def test_spend_cap_of_zero_charges_nothing(directory: Runtime, account: Account) -> None:
    body = submit(directory, account, [1, 2], max_credits=0)
    drain(directory)
    result = task(directory, account, str(body["task_id"]))
    assert {i["errorCode"] for i in result["items"]} == {"CREDIT_CAP_REACHED"}
    assert balance(directory, account) == 10_000


def test_holds_are_spread_over_buckets_in_spend_order(directory: Runtime) -> None:
    acct = make_account(directory, credit=20)
    from contactvault.server.domain.ledger import BucketKind

    credits.grant(directory, acct.id, 100, BucketKind.GIFT)
    body = submit(directory, acct, [1, 2, 10])  # 45 held: 20 subscription + 25 gift; 10 fails
    drain(directory)
    view = credits.balance(directory, acct.id)
    assert view.subscription_balance == 0
    assert view.gift_balance == 100 - 10
    assert task(directory, acct, str(body["task_id"]))["creditsCharged"] == 30
    assert_reconciles(directory)


def test_a_suppression_committed_after_resolution_still_wins(directory: Runtime, account: Account) -> None:
    import asyncio
    import random
    from datetime import timedelta

    from contactvault.server.db.queue import claim
    from contactvault.server.domain.tasks import RetryPolicy
    from contactvault.server.services import outcomes
    from contactvault.server.worker.pipeline import ResolverChain
    from contactvault.server.worker.resolvers.base import Lookup
    from contactvault.server.worker.resolvers.vault import VaultResolver

    body = submit(directory, account, [1, 2])
    with directory.db.write() as conn:
        items = claim(conn, "w#1", directory.clock.now(), timedelta(seconds=30), 10)
    chain = ResolverChain(directory.db, directory.cipher, [VaultResolver(directory.db)], 4)
    answers = asyncio.run(chain.resolve([Lookup(i.id, i.personnel_id, i.channel) for i in items]))
    suppressions.suppress(directory, "person", "1")  # the opt-out lands between resolve and record
    outcomes.record(directory, items, answers, RetryPolicy(), random.Random(1))
    result = task(directory, account, str(body["task_id"]))
    assert [(i["status"], i.get("errorCode")) for i in result["items"]] == [
        ("failed", "INELIGIBLE"),
        ("unlocked", None),
    ]
    assert balance(directory, account) == 10_000 - 15
    assert_reconciles(directory)
