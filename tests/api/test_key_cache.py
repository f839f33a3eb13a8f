"""The per-process key-lookup cache: a repeated request reads no key from the database while nothing changed,
and a revocation, a rotation's expiry or any other commit is seen by the very next request on every node."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from contactvault.server.api.app import create_app
from contactvault.server.bootstrap import build_runtime
from contactvault.server.clock import FakeClock
from contactvault.server.config import Settings
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts
from tests.factories import Account, make_account

BALANCE = "/external/credits/balance"


@pytest.fixture
def second_runtime(settings: Settings, clock: FakeClock) -> Iterator[Runtime]:
    """Another node's runtime (its own engine and key cache) on the same database."""
    other = build_runtime(settings)
    other.clock = clock
    yield other
    other.db.dispose()


@pytest.fixture
def second_node(second_runtime: Runtime) -> Iterator[TestClient]:
    """Another app instance on the same database."""
    with TestClient(create_app(runtime=second_runtime), raise_server_exceptions=False) as test_client:
        yield test_client


def key_reads(rt: Runtime) -> list[str]:
    """Every statement this runtime's engine runs that reads api_keys (appended as they run)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM api_keys" in statement:
            seen.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", record)
    return seen


def test_a_repeated_request_reads_no_key_while_nothing_changed(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    assert client.get(BALANCE, headers=account.headers).status_code == 200  # reads the key, records last use
    assert client.get(BALANCE, headers=account.headers).status_code == 200
    reads = key_reads(directory)
    for _ in range(3):
        assert client.get(BALANCE, headers=account.headers).status_code == 200
    if directory.db.is_sqlite:
        assert reads == []  # PRAGMA data_version stood still: every lookup came from the cache
    else:
        assert len(reads) == 3  # no cheap change marker on PostgreSQL: every request reads its key


def test_a_revoked_key_is_refused_at_once_on_every_node(
    client: TestClient, second_node: TestClient, directory: Runtime, account: Account
) -> None:
    other = make_account(directory, name="other")
    for node in (client, second_node):  # both caches hold both keys
        for who in (account, other):
            assert node.get(BALANCE, headers=who.headers).status_code == 200
            assert node.get(BALANCE, headers=who.headers).status_code == 200
    accounts.revoke_key(directory, account.key_id)
    assert client.get(BALANCE, headers=account.headers).status_code == 401
    assert second_node.get(BALANCE, headers=account.headers).status_code == 401
    for node in (second_node, client):
        assert node.get(BALANCE, headers=other.headers).status_code == 200


def test_a_key_revoked_through_the_other_node_is_refused_at_once(
    client: TestClient, second_runtime: Runtime, account: Account
) -> None:
    for _ in range(2):
        assert client.get(BALANCE, headers=account.headers).status_code == 200
    accounts.revoke_key(second_runtime, account.key_id)
    assert client.get(BALANCE, headers=account.headers).status_code == 401


def test_a_rotated_key_expires_on_time_while_cached(
    client: TestClient, directory: Runtime, clock: FakeClock, account: Account
) -> None:
    accounts.rotate_key(directory, account.key_id, timedelta(minutes=5))
    for _ in range(2):
        assert client.get(BALANCE, headers=account.headers).status_code == 200
    clock.advance(301)  # no commit: only the clock moved
    assert client.get(BALANCE, headers=account.headers).status_code == 401


def test_a_wrong_secret_is_refused_for_a_cached_key(client: TestClient, account: Account) -> None:
    for _ in range(2):
        assert client.get(BALANCE, headers=account.headers).status_code == 200
    key_id = account.key_id
    wrong = account.api_key[:-4] + ("AAAA" if not account.api_key.endswith("AAAA") else "BBBB")
    assert wrong.startswith(f"sk_{key_id}_")
    assert client.get(BALANCE, headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
