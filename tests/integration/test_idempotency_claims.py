"""An idempotency claim is fenced: once a stale claim is taken over, only the new owner can store a reply or give
the key back (a slow first request must not overwrite the reply of the one that took over)."""

from __future__ import annotations

import pytest

from contactvault.server.api import mappers
from contactvault.server.clock import FakeClock
from contactvault.server.db import tables
from contactvault.server.domain.errors import IdempotencyKeyInUse
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import idempotency, unlocks
from tests.engine import balance, count
from tests.factories import BIG_EVENT, Account

DIGEST = idempotency.fingerprint("email", "[1, 2]")


def request(account: Account) -> unlocks.UnlockRequest:
    return unlocks.UnlockRequest(
        account_id=account.id, channel=Channel.EMAIL, event_id=str(BIG_EVENT), personnel_ids=["1", "2"]
    )


def claim(rt: Runtime, account: Account) -> idempotency.Claim:
    result = idempotency.begin(rt, account.id, "k", DIGEST)
    assert isinstance(result, idempotency.Claim)
    return result


def take_over(rt: Runtime, account: Account, clock: FakeClock) -> idempotency.Claim:
    clock.advance(rt.settings.idempotency_stale_seconds + 1)
    return claim(rt, account)


def test_a_slow_first_request_cannot_store_its_reply_after_a_take_over(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    slow = claim(directory, account)
    second = take_over(directory, account, clock)
    stored = mappers.submission(unlocks.submit_claimed(directory, request(account), second, mappers.submission_reply))
    with pytest.raises(IdempotencyKeyInUse):
        unlocks.submit_claimed(
            directory, request(account), slow, mappers.submission_reply
        )  # it was slow, not dead: it finishes now
    replay = idempotency.begin(directory, account.id, "k", DIGEST)
    assert isinstance(replay, idempotency.Replay)
    assert replay.body == idempotency.encode(stored)
    assert count(directory, tables.tasks) == 1  # the loser's task and hold rolled back with its reply
    assert balance(directory, account) == 10_000 - 30


def test_a_slow_first_request_finishing_before_the_new_owner_stores_nothing(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    slow = claim(directory, account)
    second = take_over(directory, account, clock)
    with pytest.raises(IdempotencyKeyInUse):
        unlocks.submit_claimed(directory, request(account), slow, mappers.submission_reply)
    assert count(directory, tables.tasks) == 0
    stored = mappers.submission(unlocks.submit_claimed(directory, request(account), second, mappers.submission_reply))
    replay = idempotency.begin(directory, account.id, "k", DIGEST)
    assert isinstance(replay, idempotency.Replay)
    assert replay.body == idempotency.encode(stored)


def test_a_stale_owner_cannot_give_back_a_key_someone_else_now_owns(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    slow = claim(directory, account)
    second = take_over(directory, account, clock)
    idempotency.abandon(directory, slow)  # the slow request failed: it must not free the new owner's key
    with pytest.raises(IdempotencyKeyInUse):
        idempotency.begin(directory, account.id, "k", DIGEST)
    idempotency.abandon(directory, second)
    assert isinstance(idempotency.begin(directory, account.id, "k", DIGEST), idempotency.Claim)
