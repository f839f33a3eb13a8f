"""``services/quotes.confirm``: the one way the API and the console confirm a quote; twice gives one task."""

from __future__ import annotations

import pytest

from contactvault.server.api import mappers
from contactvault.server.db import tables
from contactvault.server.domain.errors import NotFound, PriceChanged
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import quotes, unlocks
from tests.engine import assert_reconciles, balance, count, submit
from tests.factories import BIG_EVENT, Account


def make_quote(rt: Runtime, account: Account, ids: list[str]) -> int:
    result = unlocks.precheck(rt, account.id, Channel.EMAIL, str(BIG_EVENT), ids)
    quote = quotes.create(rt, account.id, Channel.EMAIL, result)
    assert quote is not None
    return quote.quote_id


def confirm_stored(rt: Runtime, account: Account, quote_id: int) -> quotes.Confirmation:
    return quotes.confirm_stored(
        rt, account.id, Channel.EMAIL, quote_id, mappers.submission_reply, call_source="console"
    )


def test_confirming_a_stored_quote_twice_gives_one_task_and_one_hold(directory: Runtime, account: Account) -> None:
    quote_id = make_quote(directory, account, ["1", "2", "3"])
    first = confirm_stored(directory, account, quote_id)
    again = confirm_stored(directory, account, quote_id)
    assert first.task_id is not None
    assert not first.replayed
    assert again.replayed
    assert again.task_id == first.task_id
    assert count(directory, tables.tasks) == 1
    assert balance(directory, account) == 10_000 - 45
    assert_reconciles(directory)


def test_the_api_and_the_console_confirming_one_quote_give_the_same_task(directory: Runtime, account: Account) -> None:
    quote_id = make_quote(directory, account, ["3", "1", "2"])
    # An API client confirming exactly the quoted ids (as the precheck's detail listed them, sorted).
    ids = ["1", "2", "3"]
    sent = {"event_id": str(BIG_EVENT), "personnel_ids": ids, "max_credits": None, "quote_id": str(quote_id)}
    req = unlocks.UnlockRequest(account.id, Channel.EMAIL, str(BIG_EVENT), ids, quote_id=quote_id)
    by_api = quotes.confirm(directory, req, mappers.submission_reply, sent)
    by_console = confirm_stored(directory, account, quote_id)
    assert by_console.replayed
    assert by_console.task_id == by_api.task_id is not None
    assert count(directory, tables.tasks) == 1


def test_a_changed_price_holds_nothing_and_stores_nothing(directory: Runtime, account: Account) -> None:
    quote_id = make_quote(directory, account, ["1", "2"])
    submit(directory, account, ["2"])  # another tab takes person 2
    before = balance(directory, account)
    for _ in range(2):  # the refusal stored nothing: the retry is checked again
        with pytest.raises(PriceChanged) as caught:
            confirm_stored(directory, account, quote_id)
        assert caught.value.details == {"quoted": 30, "now": 15, "no_longer_chargeable": ["2"], "newly_chargeable": []}
    assert balance(directory, account) == before
    assert count(directory, tables.tasks) == 1
    assert_reconciles(directory)


def test_an_unknown_or_another_accounts_quote_is_not_found(
    directory: Runtime, account: Account, other_account: Account
) -> None:
    quote_id = make_quote(directory, account, ["1"])
    with pytest.raises(NotFound):
        confirm_stored(directory, other_account, quote_id)
    with pytest.raises(NotFound):
        confirm_stored(directory, account, quote_id + 1)
    assert count(directory, tables.tasks) == 0


def test_the_task_is_found_without_naming_its_channel(directory: Runtime, account: Account) -> None:
    task_id = int(str(submit(directory, account, ["1"], channel=Channel.PHONE)["task_id"]))
    assert unlocks.get_task(directory, account.id, task_id).channel is Channel.PHONE
    with pytest.raises(NotFound):
        unlocks.get_task(directory, account.id, task_id, Channel.EMAIL)
