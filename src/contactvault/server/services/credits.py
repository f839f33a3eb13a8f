"""Credits: grants and the balance view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contactvault.server.db import audit, ledger
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InvalidRequest, NotFound
from contactvault.server.domain.ledger import BucketKind, PostingKind
from contactvault.server.runtime import Runtime


def grant(
    rt: Runtime,
    account_id: int,
    amount: int,
    kind: BucketKind = BucketKind.SUBSCRIPTION,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    """Add a bucket of ``amount`` credits to an account and return the new balance view."""
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
        return _view(ledger.balance_rows(conn, account_id), now)


def balance(rt: Runtime, account_id: int) -> dict[str, Any]:
    """The CreditBalance of an account (what can be spent now, by bucket)."""
    with rt.db.read() as conn:
        rows = ledger.balance_rows(conn, account_id)
    return _view(rows, rt.clock.now())


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _view(rows: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
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
    return {
        "totalAmount": sub[0] + add[0] + gift[0],
        "totalBalance": sub[1] + add[1] + gift[1],
        "subscriptionAmount": sub[0],
        "subscriptionBalance": sub[1],
        "addonAmount": add[0],
        "addonBalance": add[1],
        "addonExpireAt": _ms(earliest[BucketKind.ADDON]),
        "giftAmount": gift[0],
        "giftBalance": gift[1],
        "resetAt": _ms(earliest[BucketKind.SUBSCRIPTION]),
        "reservedBalance": reserved,
    }
