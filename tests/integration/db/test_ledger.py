"""db/ledger: buckets and postings, written in the caller's transaction, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy.exc
from sqlalchemy import select

from contactvault.server.db import ledger, tables
from contactvault.server.db.ledger import Posting
from contactvault.server.domain.ledger import BucketKind, PostingKind
from contactvault.server.runtime import Runtime
from tests.engine import count
from tests.factories import make_account


def _account_with_buckets(rt: Runtime, *amounts: int) -> tuple[int, list[int]]:
    """A fresh account (no credits) and subscription buckets of these amounts, with their grant postings."""
    account_id = make_account(rt, credit=0).id
    now = rt.clock.now()
    with rt.db.write() as conn:
        ids = [ledger.add_bucket(conn, account_id, BucketKind.SUBSCRIPTION, a, None, now) for a in amounts]
        grants = [
            Posting(account_id, b, PostingKind.GRANT, a, 0, "grant", b) for b, a in zip(ids, amounts, strict=True)
        ]
        ledger.post(conn, grants, now, apply=False)
    return account_id, ids


def _bucket(rt: Runtime, bucket_id: int) -> tuple[int, int]:
    with rt.db.read() as conn:
        row = conn.execute(select(tables.credit_buckets).where(tables.credit_buckets.c.id == bucket_id)).one()
    return row.balance, row.reserved


def test_a_new_bucket_holds_its_amount_and_is_listed_in_id_order(rt: Runtime) -> None:
    account_id, ids = _account_with_buckets(rt, 100, 50)
    assert ids == sorted(ids)
    with rt.db.read() as conn:
        buckets = ledger.buckets_of(conn, account_id)
    assert [(b.id, b.kind, b.balance, b.expires_at) for b in buckets] == [
        (ids[0], BucketKind.SUBSCRIPTION, 100, None),
        (ids[1], BucketKind.SUBSCRIPTION, 50, None),
    ]


def test_locking_the_buckets_reads_the_same_buckets(rt: Runtime) -> None:
    account_id, ids = _account_with_buckets(rt, 10, 20)
    with rt.db.write() as conn:
        locked = ledger.buckets_of(conn, account_id, lock=True)
        ledger.lock_buckets(conn, reversed(ids))
    assert [b.id for b in locked] == ids


def test_a_posting_moves_credits_between_available_and_reserved(rt: Runtime) -> None:
    account_id, (bucket,) = _account_with_buckets(rt, 100)
    hold = Posting(account_id, bucket, PostingKind.HOLD, -30, 30, "task", 1, task_id=1)
    capture = Posting(account_id, bucket, PostingKind.CAPTURE, 0, -15, "item", 11, task_id=1)
    with rt.db.write() as conn:
        ledger.post(conn, [hold, capture], rt.clock.now())
    assert _bucket(rt, bucket) == (70, 15)
    with rt.db.read() as conn:
        assert ledger.posting_sums(conn, account_id) == {bucket: (70, 15)}


def test_postings_written_without_apply_leave_the_bucket_as_it_was(rt: Runtime) -> None:
    account_id, (bucket,) = _account_with_buckets(rt, 100)
    before = count(rt, tables.ledger_entries)
    with rt.db.write() as conn:
        ledger.post(
            conn, [Posting(account_id, bucket, PostingKind.HOLD, -5, 5, "task", 2)], rt.clock.now(), apply=False
        )
    assert _bucket(rt, bucket) == (100, 0)
    assert count(rt, tables.ledger_entries) == before + 1


def test_no_postings_write_nothing(rt: Runtime) -> None:
    _, (bucket,) = _account_with_buckets(rt, 100)
    before = count(rt, tables.ledger_entries)
    with rt.db.write() as conn:
        ledger.post(conn, [], rt.clock.now())
    assert count(rt, tables.ledger_entries) == before
    assert _bucket(rt, bucket) == (100, 0)


def test_the_same_cause_cannot_post_twice_on_a_bucket(rt: Runtime) -> None:
    account_id, (bucket,) = _account_with_buckets(rt, 100)
    hold = Posting(account_id, bucket, PostingKind.HOLD, -30, 30, "task", 3, task_id=3)
    with rt.db.write() as conn:
        ledger.post(conn, [hold], rt.clock.now())
    with pytest.raises(sqlalchemy.exc.IntegrityError), rt.db.write() as conn:
        ledger.post(conn, [hold], rt.clock.now())
    assert _bucket(rt, bucket) == (70, 30)


def test_posting_sums_are_per_bucket_and_per_account(rt: Runtime) -> None:
    first, (a, b) = _account_with_buckets(rt, 100, 40)
    second, (c,) = _account_with_buckets(rt, 7)
    with rt.db.write() as conn:
        ledger.post(conn, [Posting(first, b, PostingKind.HOLD, -15, 15, "task", 4)], rt.clock.now())
        expiring = ledger.add_bucket(
            conn, second, BucketKind.GIFT, 3, rt.clock.now() + timedelta(days=1), rt.clock.now()
        )
    with rt.db.read() as conn:
        assert ledger.posting_sums(conn, first) == {a: (100, 0), b: (25, 15)}
        assert ledger.posting_sums(conn, second) == {c: (7, 0)}
        everyone = ledger.posting_sums(conn)
        rows = ledger.balance_rows(conn, second)
    assert {a, b, c} <= everyone.keys()
    assert expiring not in everyone  # a bucket without postings has no sums
    assert sorted((r["id"], r["kind"], r["balance"]) for r in rows) == [(c, "subscription", 7), (expiring, "gift", 3)]
