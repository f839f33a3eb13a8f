"""Scale-out rate limits: API nodes that share a Redis storage count one limit between them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contactvault.server.api.app import create_app
from contactvault.server.bootstrap import build_runtime
from contactvault.server.clock import FakeClock
from contactvault.server.config import Settings
from tests.factories import make_account, make_directory

pytestmark = pytest.mark.postgresql

LIMIT = 5
BALANCE = "/external/credits/balance"


@pytest.fixture
def nodes(postgres_url: str, redis_url: str, tmp_path: Path) -> Iterator[list[TestClient]]:
    """Two API nodes on one PostgreSQL database and one Redis, their clocks stopped inside one window."""
    settings = Settings(
        database_url=postgres_url,
        encryption_key_file=tmp_path / "keys.json",
        rate_limit_storage=redis_url,
        rate_limit_per_key=LIMIT,
        rate_limit_per_ip=0,
    )
    runtimes = [build_runtime(settings) for _ in range(2)]
    clock = FakeClock()
    for rt in runtimes:
        rt.clock = clock
    with (
        TestClient(create_app(runtime=runtimes[0]), raise_server_exceptions=False) as first,
        TestClient(create_app(runtime=runtimes[1]), raise_server_exceptions=False) as second,
    ):
        yield [first, second]
    for rt in runtimes:
        rt.db.dispose()


def test_two_nodes_share_one_limit_per_key(nodes: list[TestClient]) -> None:
    rt = nodes[0].app.state.runtime  # type: ignore[attr-defined]
    make_directory(rt)
    account, other = make_account(rt), make_account(rt, name="other")
    answers = [nodes[i % 2].get(BALANCE, headers=account.headers) for i in range(LIMIT + 2)]
    assert [r.status_code for r in answers] == [200] * LIMIT + [429, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers[:LIMIT]] == [str(n) for n in range(LIMIT - 1, -1, -1)]
    refused = answers[LIMIT]
    assert refused.json()["errorKey"] == "RATE_LIMIT_EXCEEDED"
    assert int(refused.headers["Retry-After"]) >= 1
    # Another key's traffic is counted apart, on either node.
    assert nodes[1].get(BALANCE, headers=other.headers).status_code == 200


def test_the_limit_opens_again_in_the_next_window(nodes: list[TestClient]) -> None:
    rt = nodes[0].app.state.runtime  # type: ignore[attr-defined]
    make_directory(rt)
    account = make_account(rt)
    for i in range(LIMIT):
        assert nodes[i % 2].get(BALANCE, headers=account.headers).status_code == 200
    assert nodes[0].get(BALANCE, headers=account.headers).status_code == 429
    rt.clock.advance(60)
    assert nodes[1].get(BALANCE, headers=account.headers).status_code == 200
