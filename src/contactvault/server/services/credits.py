"""Credits: grants and the balance view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contactvault.server.db import audit, ledger
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InvalidRequest, NotFound
from contactvault.server.domain.ledger import BucketKind, PostingKind
from contactvault.server.runtime import Runtime
from contactvault.server.services.idempotency import Keep


@dataclass(frozen=True, slots=True)
class Balance:
    """What an account can spend now, by bucket kind (expired buckets left out); ``reset_at`` is the earliest
    expiry of a subscription bucket, ``addon_expire_at`` of an addon one; ``reserved`` is held by unfinished tasks."""

    subscription_amount: int
    subscription_balance: int
    addon_amount: int
    addon_balance: int
    addon_expire_at: datetime | None
    gift_amount: int
    gift_balance: int
    reset_at: datetime | None
    reserved: int

    @property
    def total_amount(self) -> int:
        return self.subscription_amount + self.addon_amount + self.gift_amount

    @property
    def total_balance(self) -> int:
        return self.subscription_balance + self.addon_balance + self.gift_balance


def grant(
    rt: Runtime,
    account_id: int,
    amount: int,
    kind: BucketKind = BucketKind.SUBSCRIPTION,
    expires_at: datetime | None = None,
    keep: Keep[Balance] | None = None,
) -> Balance:
    """Add a bucket of ``amount`` credits to an account and return the new balance; ``keep`` (an idempotent
    caller's stored reply) runs in the grant's own transaction, so a grant and its reply commit together."""
    if amount <= 0:
        raise InvalidRequest("amount must be a positive integer.", {"field": "amount"})
    now = rt.clock.now()
    if expires_at is not None and expires_at <= now:
        raise InvalidRequest("expires must be in the future.", {"field": "expires"})
    with rt.db.write() as conn:
        if not ledger.account_exists(conn, account_id):
            raise NotFound(f"Account {account_id} not found.")
        bucket_id = ledger.add_bucket(conn, account_id, kind, amount, expires_at, now)
        ledger.post(
            conn,
            [ledger.Posting(account_id, bucket_id, PostingKind.GRANT, amount, 0, "grant", bucket_id)],
            now,
            apply=False,  # the bucket was created with its balance
        )
        audit.record(
            conn,
            [
                audit.AuditEntry(
                    AuditAction.CREDITS_GRANT,
                    account_id,
                    "bucket",
                    str(bucket_id),
                    amount,
                    {"bucket": kind.value},
                )
            ],
            now,
        )
        result = _view(ledger.balance_rows(conn, account_id), now)
        if keep is not None:
            keep(conn, result)
        return result


def balance(rt: Runtime, account_id: int) -> Balance:
    """The CreditBalance of an account (what can be spent now, by bucket)."""
    with rt.db.read() as conn:
        rows = ledger.balance_rows(conn, account_id)
    return _view(rows, rt.clock.now())


def account_balance(rt: Runtime, account_id: int) -> Balance:
    """``balance``, or NotFound for an unknown account (an operator names accounts by id; a caller's own exists)."""
    with rt.db.read() as conn:
        if not ledger.account_exists(conn, account_id):
            raise NotFound(f"Account {account_id} not found.")
        rows = ledger.balance_rows(conn, account_id)
    return _view(rows, rt.clock.now())


def _view(rows: list[dict[str, Any]], now: datetime) -> Balance:
    sums = {kind: [0, 0] for kind in BucketKind}
    earliest: dict[BucketKind, datetime | None] = dict.fromkeys(BucketKind)
    reserved = 0
    for row in rows:
        reserved += row["reserved"]
        expires = row["expires_at"]
        if expires is not None and expires <= now:
            continue
        kind = BucketKind(row["kind"])
        sums[kind][0] += row["amount"]
        sums[kind][1] += row["balance"]
        if expires is not None and (earliest[kind] is None or expires < earliest[kind]):
            earliest[kind] = expires
    sub, add, gift = sums[BucketKind.SUBSCRIPTION], sums[BucketKind.ADDON], sums[BucketKind.GIFT]
    return Balance(
        subscription_amount=sub[0],
        subscription_balance=sub[1],
        addon_amount=add[0],
        addon_balance=add[1],
        addon_expire_at=earliest[BucketKind.ADDON],
        gift_amount=gift[0],
        gift_balance=gift[1],
        reset_at=earliest[BucketKind.SUBSCRIPTION],
        reserved=reserved,
    )
