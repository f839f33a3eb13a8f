"""Credit expiry: what is left spendable in an expired bucket is posted as an ``expire`` entry and leaves it.

The balance never counts an expired bucket, and spending never draws on one (``domain.ledger.spendable``); the
``expire`` posting makes the ledger say so too, so an account's postings sum to what it can still spend.

Held credits: a bucket's ``reserved`` part is not expired. A task that held credits before the bucket expired
settles them as usual: a capture charges them (they were valid when held); a release puts them back into the
expired bucket, where the next expiry run (housekeeping, ``CONTACTVAULT_EXPIRY_INTERVAL_SECONDS``) expires them
with a posting of its own. Meanwhile they are invisible to the balance and to spending, as before.

Exactly once: each run locks the buckets it expires (``db.ledger.expired_with_balance``) and posts what their
locked row says is left, so two runners (two nodes, or a node and ``admin`` by hand) never expire one credit
twice. The posting's cause is (``expiry``, the bucket's newest posting before it): unique per expiry of a bucket,
so the ledger's ``(cause, kind, bucket)`` constraint backs this up.
"""

from __future__ import annotations

from dataclasses import dataclass

from contactvault.server import metrics
from contactvault.server.db import audit, ledger
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.ledger import PostingKind
from contactvault.server.runtime import Runtime

DEFAULT_BATCH = 500
CAUSE_TYPE = "expiry"


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    """What a run expired: how many buckets (postings) and credits."""

    buckets: int
    credits: int


def expire_credits(rt: Runtime, *, batch_size: int = DEFAULT_BATCH) -> ExpiryReport:
    """Post an ``expire`` entry for every expired bucket with spendable credits left, zeroing its balance."""
    now = rt.clock.now()
    buckets = credits = 0
    while True:
        with rt.db.write() as conn:
            expired = ledger.expired_with_balance(conn, now, batch_size)
            if not expired:
                break
            postings = [
                ledger.Posting(b.account_id, b.id, PostingKind.EXPIRE, -b.balance, 0, CAUSE_TYPE, b.newest_posting_id)
                for b in expired
            ]
            ledger.post(conn, postings, now)
            audit.record(
                conn,
                [
                    audit.AuditEntry(AuditAction.CREDITS_EXPIRE, b.account_id, "bucket", str(b.id), b.balance, {})
                    for b in expired
                ],
                now,
            )
        expired_credits = sum(b.balance for b in expired)
        metrics.CREDITS_EXPIRED.inc(expired_credits)
        buckets += len(expired)
        credits += expired_credits
    return ExpiryReport(buckets, credits)
