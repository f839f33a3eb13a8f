"""A PostgreSQL restart mid-run: the API answers 503 with the error body while the database is down, then
recovers by itself; workers and the LISTEN connection reconnect; nothing is lost or charged twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError

from contactvault.server.api.app import create_app
from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.pg_notify import PgNotifier
from contactvault.server.runtime import Runtime
from tests import pg
from tests.engine import assert_reconciles, balance, drain, submit, task
from tests.factories import make_account, make_directory

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]


def test_the_api_answers_503_while_the_database_is_down_and_recovers(
    private_postgres: tuple[pg.PgServer, str], tmp_path: Path
) -> None:
    server, url = private_postgres
    rt = build_runtime(Settings(database_url=url, encryption_key_file=tmp_path / "keys.json"))
    try:
        _down_and_up(server, rt)
    finally:
        rt.db.dispose()


def _down_and_up(server: pg.PgServer, rt: Runtime) -> None:
    make_directory(rt)
    account = make_account(rt)
    first = submit(rt, account, range(1, 21))
    with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
        assert isinstance(rt.notifier, PgNotifier)
        assert rt.notifier.listening.wait(10)
        assert client.get("/external/credits/balance", headers=account.headers).status_code == 200

        server.stop("fast")
        down = client.get("/external/credits/balance", headers=account.headers)
        assert down.status_code == 503
        body = down.json()
        assert (body["code"], body["errorKey"]) == (503, "SERVICE_UNAVAILABLE")
        assert body["traceId"] == down.headers["X-Request-ID"]
        assert down.headers["Retry-After"] == "1"
        assert "Traceback" not in down.text
        assert (
            client.post(
                "/external/contacts/unlock", json={"event_id": "100", "personnel_ids": ["31"]}, headers=account.headers
            ).status_code
            == 503
        )
        with pytest.raises(DBAPIError):
            drain(rt)

        server.start()
        pg.wait_for_postgres(server.url())
        assert client.get("/external/credits/balance", headers=account.headers).status_code == 200
        second = client.post(
            "/external/contacts/unlock", json={"event_id": "100", "personnel_ids": ["31"]}, headers=account.headers
        )
        assert second.status_code == 201
        assert rt.notifier.listening.wait(10)
    assert drain(rt) == 21
    assert task(rt, account, str(first["task_id"]))["taskStatus"] == "completed"
    assert balance(rt, account) == 10_000 - 15 * 19  # 10 and 20 have no email
    assert_reconciles(rt)
