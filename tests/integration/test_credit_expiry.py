"""Credit expiry: an expired bucket's spendable credits are posted as one ``expire`` entry, exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from contactvault.server.clock import FakeClock
from contactvault.server.db import tables
from contactvault.server.db.directory import PageRequest
from contactvault.server.domain.ledger import BucketKind, PostingKind
from contactvault.server.runtime import Runtime
from contactvault.server.services import credits, expiry, ledger_view
from contactvault.server.services.ledger_view import LedgerEntry
from tests.engine import assert_reconciles, drain, submit
from tests.factories import Account, make_account


def _expiries(rt: Runtime, account_id: int) -> list[LedgerEntry]:
    page = ledger_view.entries(rt, account_id, PageRequest(1, 100), kinds=[PostingKind.EXPIRE])
    return list(page.items)


def _bucket(rt: Runtime, bucket_kind: BucketKind, account_id: int) -> tuple[int, int]:
    b = tables.credit_buckets
    with rt.db.read() as conn:
        row = conn.execute(
            select(b.c.balance, b.c.reserved).where(b.c.account_id == account_id, b.c.kind == bucket_kind.value)
        ).one()
    return int(row.balance), int(row.reserved)


def test_an_expired_bucket_is_posted_as_one_expire_entry_and_zeroed(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    now = clock.now()
    credits.grant(directory, account.id, 300, BucketKind.ADDON, now + timedelta(hours=1))
    credits.grant(directory, account.id, 50, BucketKind.GIFT, now + timedelta(hours=2))
    assert expiry.expire_credits(directory) == expiry.ExpiryReport(0, 0)  # nothing has expired yet

    clock.advance(3600)  # the add-on expires at exactly this instant
    assert expiry.expire_credits(directory) == expiry.ExpiryReport(1, 300)
    [entry] = _expiries(directory, account.id)
    assert (entry.available_delta, entry.held_delta, entry.bucket_kind) == (-300, 0, BucketKind.ADDON)
    assert (entry.cause_type, entry.task_id, entry.call_source) == ("expiry", None, None)
    assert _bucket(directory, BucketKind.ADDON, account.id) == (0, 0)
    assert expiry.expire_credits(directory) == expiry.ExpiryReport(0, 0)  # idempotent
    assert len(_expiries(directory, account.id)) == 1

    # The postings now add up to what can be spent: the unexpired subscription and gift credits.
    assert ledger_view.totals(directory, account.id).available == 10_050
    assert credits.balance(directory, account.id).total_balance == 10_050
    assert_reconciles(directory)


def test_held_credits_settle_first_and_a_release_into_an_expired_bucket_expires_on_the_next_run(
    directory: Runtime, clock: FakeClock
) -> None:
    account = make_account(directory, credit=0)
    credits.grant(directory, account.id, 100, BucketKind.ADDON, clock.now() + timedelta(minutes=1))
    submit(directory, account, [1, 2, 10])  # 45 held; person 10 has no email: 15 of them come back
    clock.advance(120)

    assert expiry.expire_credits(directory) == expiry.ExpiryReport(1, 55)  # the held 45 are not expired
    assert _bucket(directory, BucketKind.ADDON, account.id) == (0, 45)
    drain(directory)  # two captures (30 charged), one release of 15 into the expired bucket
    assert _bucket(directory, BucketKind.ADDON, account.id) == (15, 0)
    assert credits.balance(directory, account.id).total_balance == 0  # the balance never counts it
    assert_reconciles(directory)

    assert expiry.expire_credits(directory) == expiry.ExpiryReport(1, 15)
    assert sorted(e.available_delta for e in _expiries(directory, account.id)) == [-55, -15]
    assert ledger_view.totals(directory, account.id) == ledger_view.LedgerTotals(0, 0)
    assert_reconciles(directory)


def test_runners_at_the_same_time_expire_each_bucket_exactly_once(directory: Runtime, clock: FakeClock) -> None:
    accounts = [make_account(directory, credit=0, name=f"a{i}") for i in range(6)]
    for i, account in enumerate(accounts):
        credits.grant(directory, account.id, 10 + i, BucketKind.GIFT, clock.now() + timedelta(seconds=30))
    clock.advance(60)
    start = threading.Barrier(4)
    reports: list[expiry.ExpiryReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            reports.append(expiry.expire_credits(directory, batch_size=2))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sum(r.buckets for r in reports) == 6
    assert sum(r.credits for r in reports) == sum(10 + i for i in range(6))
    for i, account in enumerate(accounts):
        assert [e.available_delta for e in _expiries(directory, account.id)] == [-(10 + i)]
    assert_reconciles(directory)
