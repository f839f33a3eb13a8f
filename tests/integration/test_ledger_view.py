"""The itemised ledger of one account: newest first, paged, filtered, isolated, and adding up to the balance."""

from __future__ import annotations

import pytest

from contactvault.server.db.directory import PageRequest
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.domain.ledger import BucketKind, PostingKind
from contactvault.server.runtime import Runtime
from contactvault.server.services import credits, ledger_view
from contactvault.server.services.ledger_view import LedgerEntry
from tests.engine import drain, submit
from tests.factories import Account


def _all(rt: Runtime, account: Account, **filters: object) -> list[LedgerEntry]:
    page = ledger_view.entries(rt, account.id, PageRequest(1, 100), **filters)  # type: ignore[arg-type]
    assert page.total == len(page.items)
    return list(page.items)


def test_entries_itemise_grants_holds_captures_and_releases_newest_first(directory: Runtime, account: Account) -> None:
    credits.grant(directory, account.id, 500, BucketKind.GIFT)
    task_id = int(str(submit(directory, account, [1, 2, 10])["task_id"]))  # person 10 has no email
    drain(directory)

    found = _all(directory, account)
    assert [e.entry_id for e in found] == sorted((e.entry_id for e in found), reverse=True)
    assert (found[-1].kind, found[-1].available_delta) == (PostingKind.GRANT, 10_000)  # the oldest, last
    assert found[0].kind in (PostingKind.CAPTURE, PostingKind.RELEASE)  # the newest, first
    grants = [e for e in found if e.kind is PostingKind.GRANT]
    assert sorted((g.available_delta, g.held_delta, g.bucket_kind) for g in grants) == [
        (500, 0, BucketKind.GIFT),
        (10_000, 0, BucketKind.SUBSCRIPTION),
    ]
    assert all(g.task_id is None and g.call_source is None and g.cause_type == "grant" for g in grants)
    hold = [e for e in found if e.kind is PostingKind.HOLD]
    assert [(h.available_delta, h.held_delta, h.task_id, h.call_source) for h in hold] == [(-45, 45, task_id, "api")]
    assert (hold[0].bucket_kind, hold[0].cause_type) == (BucketKind.SUBSCRIPTION, "task")
    captures = [e for e in found if e.kind is PostingKind.CAPTURE]
    releases = [e for e in found if e.kind is PostingKind.RELEASE]
    assert sorted((c.available_delta, c.held_delta) for c in captures) == [(0, -15), (0, -15)]
    assert [(r.available_delta, r.held_delta) for r in releases] == [(15, -15)]
    assert all(e.task_id == task_id and e.cause_type == "item" for e in captures + releases)


def test_pages_split_the_entries_without_overlap(directory: Runtime, account: Account) -> None:
    for amount in (1, 2, 3, 4):
        credits.grant(directory, account.id, amount)
    everything = _all(directory, account)
    assert len(everything) == 5
    first = ledger_view.entries(directory, account.id, PageRequest(1, 2))
    second = ledger_view.entries(directory, account.id, PageRequest(2, 2))
    third = ledger_view.entries(directory, account.id, PageRequest(3, 2))
    assert (first.total, first.total_pages, first.has_more, third.has_more) == (5, 3, True, False)
    assert [e.available_delta for e in first.items] == [4, 3]  # the newest first
    assert [*first.items, *second.items, *third.items] == everything
    assert ledger_view.entries(directory, account.id, PageRequest(4, 2)).items == []


def test_another_accounts_postings_are_never_visible(
    directory: Runtime, account: Account, other_account: Account
) -> None:
    theirs = int(str(submit(directory, other_account, [3])["task_id"]))
    own = int(str(submit(directory, account, [4])["task_id"]))
    mine = _all(directory, account)
    assert {e.task_id for e in mine} == {None, own}
    assert not {e.entry_id for e in mine} & {e.entry_id for e in _all(directory, other_account)}
    assert _all(directory, account, task_id=theirs) == []
    assert len(_all(directory, other_account)) == 2


def test_filters_by_task_and_by_kind(directory: Runtime, account: Account) -> None:
    first = int(str(submit(directory, account, [1])["task_id"]))
    second = int(str(submit(directory, account, [2, 3])["task_id"]))
    drain(directory)
    only_first = _all(directory, account, task_id=first)
    assert {e.task_id for e in only_first} == {first}
    assert sorted(e.kind for e in only_first) == sorted([PostingKind.HOLD, PostingKind.CAPTURE])
    holds = _all(directory, account, kinds=[PostingKind.HOLD])
    assert sorted(e.task_id or 0 for e in holds) == sorted([first, second])
    both = _all(directory, account, task_id=second, kinds=ledger_view.parse_kinds(["capture", "grant"]))
    assert [e.kind for e in both] == [PostingKind.CAPTURE, PostingKind.CAPTURE]


def test_the_sums_of_the_postings_reconcile_with_the_balance(
    directory: Runtime, account: Account, other_account: Account
) -> None:
    credits.grant(directory, account.id, 300, BucketKind.ADDON)
    submit(directory, account, [1, 2, 3, 10])
    submit(directory, other_account, [5])

    def check() -> None:
        balance = credits.balance(directory, account.id)
        totals = ledger_view.totals(directory, account.id)
        assert (totals.available, totals.held) == (balance.total_balance, balance.reserved)
        entries = _all(directory, account)
        assert sum(e.available_delta for e in entries) == balance.total_balance
        assert sum(e.held_delta for e in entries) == balance.reserved

    check()  # while the task holds its credits
    assert credits.balance(directory, account.id).reserved == 60
    drain(directory)
    check()  # once settled
    assert ledger_view.totals(directory, account.id) == ledger_view.LedgerTotals(10_300 - 45, 0)


def test_bad_filters_and_pages_are_refused_naming_the_field(directory: Runtime, account: Account) -> None:
    with pytest.raises(InvalidRequest) as bad_kind:
        ledger_view.parse_kinds(["grant", "refund"])
    assert bad_kind.value.details == {"field": "kind"}
    for page, field in (
        (PageRequest(0, 10), "page"),
        (PageRequest(1, 0), "pageSize"),
        (PageRequest(1, 101), "pageSize"),
    ):
        with pytest.raises(InvalidRequest) as bad_page:
            ledger_view.entries(directory, account.id, page)
        assert bad_page.value.details == {"field": field}
