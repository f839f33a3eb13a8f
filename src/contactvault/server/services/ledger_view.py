"""The itemised credit ledger of one account: every posting (grant, hold, capture, release, expire), newest first.

Wire-neutral: typed values in a ``directory.Page``, so the console's account page,
``GET /external/credits/transactions`` and the CLI render the same entries their own way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from contactvault.server.db import ledger_reads
from contactvault.server.db.directory import PageRequest
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.domain.ledger import BucketKind, PostingKind
from contactvault.server.runtime import Runtime
from contactvault.server.services import unlocked_contacts
from contactvault.server.services.directory import Page, page_of
from contactvault.server.services.unlocked_contacts import SINCE_EXAMPLE

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One posting: what it did to the spendable (``available_delta``) and held (``held_delta``) credits of one
    bucket, and why (``cause_type``/``cause_id``: the bucket for a grant, the task for a hold, the item for a
    capture or release; ``task_id`` and the task's ``call_source`` for every task posting)."""

    entry_id: int
    kind: PostingKind
    available_delta: int
    held_delta: int
    bucket_id: int
    bucket_kind: BucketKind
    cause_type: str
    cause_id: int
    task_id: int | None
    call_source: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    """The sums of an account's postings: what the buckets hold as spendable and as held (expired buckets too)."""

    available: int
    held: int


def parse_kinds(raw: Iterable[str]) -> frozenset[PostingKind]:
    """Posting kinds from their names (``InvalidRequest`` naming the field ``kind`` for an unknown one)."""
    known = {k.value: k for k in PostingKind}
    kinds = set()
    for name in raw:
        if name not in known:
            raise InvalidRequest("kind must be one of grant, hold, capture, release, expire.", {"field": "kind"})
        kinds.add(known[name])
    return frozenset(kinds)


@dataclass(frozen=True, slots=True)
class LedgerQuery:
    """Which postings: those of one task and/or some kinds, posted in ``[since, until)``, up to the posting
    ``up_to_id`` (None: the newest there is now)."""

    task_id: int | None = None
    kinds: Iterable[PostingKind] = ()
    since: datetime | None = None
    until: datetime | None = None
    up_to_id: int | None = None


@dataclass(frozen=True, slots=True)
class LedgerHistory:
    """One page of postings, and the snapshot bound it was read under: pass ``up_to_id`` back for the next pages
    and postings made meanwhile (always newer, so with higher ids) neither shift nor repeat entries."""

    page: Page[LedgerEntry]
    up_to_id: int


LARGEST_ID = 2**63 - 1


def parse_id(raw: str | None, field: str) -> int | None:
    """A positive id given as digits (``InvalidRequest`` naming ``field`` otherwise)."""
    if raw is None:
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise InvalidRequest(f"{field} must be a positive integer id.", {"field": field})
    return min(int(text), LARGEST_ID)  # no id is larger: a larger one selects what the largest would


def parse_moment(raw: str | None, field: str) -> datetime | None:
    """An ISO 8601 date-time as ``since`` takes it elsewhere (``InvalidRequest`` naming ``field`` otherwise)."""
    try:
        return unlocked_contacts.parse_since(raw)
    except InvalidRequest:
        raise InvalidRequest(
            f"{field} must be an ISO 8601 date-time such as {SINCE_EXAMPLE}.", {"field": field}
        ) from None


def entries(
    rt: Runtime,
    account_id: int,
    page: PageRequest,
    *,
    task_id: int | None = None,
    kinds: Iterable[PostingKind] = (),
) -> Page[LedgerEntry]:
    """One page of the account's postings, newest first, optionally only one task's and/or some kinds."""
    return history(rt, account_id, page, LedgerQuery(task_id, kinds)).page


def history(rt: Runtime, account_id: int, page: PageRequest, query: LedgerQuery) -> LedgerHistory:
    """One page of the account's postings matching ``query``, newest first, read under a snapshot bound."""
    if page.page < 1:
        raise InvalidRequest("page must be 1 or more.", {"field": "page"})
    if not 1 <= page.size <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"pageSize must be between 1 and {MAX_PAGE_SIZE}.", {"field": "pageSize"})
    with rt.db.read() as conn:
        up_to = query.up_to_id if query.up_to_id is not None else ledger_reads.last_posting_id(conn, account_id)
        which = ledger_reads.PostingFilter(
            account_id, query.task_id, tuple(k.value for k in query.kinds), query.since, query.until, up_to
        )
        rows, total = ledger_reads.postings(conn, which, page)
    return LedgerHistory(page_of([_entry(r) for r in rows], total, page), up_to)


def totals(rt: Runtime, account_id: int) -> LedgerTotals:
    """The sums of every posting of the account (they equal its buckets' balances and reserved credits)."""
    with rt.db.read() as conn:
        available, held = ledger_reads.posting_totals(conn, ledger_reads.PostingFilter(account_id))
    return LedgerTotals(available, held)


def _entry(row: ledger_reads.PostingRow) -> LedgerEntry:
    return LedgerEntry(
        entry_id=row.entry_id,
        kind=PostingKind(row.kind),
        available_delta=row.available_delta,
        held_delta=row.reserved_delta,
        bucket_id=row.bucket_id,
        bucket_kind=BucketKind(row.bucket_kind),
        cause_type=row.cause_type,
        cause_id=row.cause_id,
        task_id=row.task_id,
        call_source=row.call_source,
        created_at=row.created_at,
    )
