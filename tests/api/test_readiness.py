"""/readyz checks the database the way a node needs it: on SQLite the file present, readable and writable within
the probe's time; on PostgreSQL the server answering; the schema current; the keys the ones that wrote it. It is
503 with the reason while any of that fails, and 200 again once it is back."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from contactvault.server.api.app import create_app
from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from contactvault.server.db.migrate import alembic_config
from contactvault.server.db.tables import key_checks
from contactvault.server.runtime import Runtime
from tests import pg


def _eventually(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)  # polling a restarting server with a deadline


def _reasons(client: TestClient) -> list[str]:
    response = client.get("/readyz")
    if response.status_code == 200:
        return []
    assert response.status_code == 503
    return list(response.json()["reasons"])


def _sqlite_runtime(tmp_path: Path) -> tuple[Runtime, Path]:
    path = tmp_path / "contactvault.db"
    settings = Settings(database_url=f"sqlite:///{path}", encryption_key_file=tmp_path / "keys.json")
    return build_runtime(settings), path


def test_sqlite_readyz_is_503_while_the_file_is_gone_and_200_once_it_is_back(tmp_path: Path) -> None:
    rt, path = _sqlite_runtime(tmp_path)
    try:
        with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
            assert _reasons(client) == []
            path.rename(tmp_path / "moved.db")
            assert _reasons(client) == ["database file is missing"]
            assert client.get("/healthz").status_code == 200
            (tmp_path / "moved.db").rename(path)
            assert _reasons(client) == []
    finally:
        rt.db.dispose()


def test_sqlite_readyz_is_503_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    rt, path = _sqlite_runtime(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
            holder.execute("BEGIN EXCLUSIVE")
            assert _reasons(client) == ["database file stayed locked for 2 s"]
            holder.execute("ROLLBACK")
            assert _reasons(client) == []
    finally:
        holder.close()
        rt.db.dispose()


def test_postgresql_readyz_is_503_while_the_server_is_down_and_200_once_it_is_back(
    private_postgres: tuple[pg.PgServer, str], tmp_path: Path
) -> None:
    server, url = private_postgres
    rt = build_runtime(Settings(database_url=url, encryption_key_file=tmp_path / "keys.json"))
    try:
        with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
            assert _reasons(client) == []
            server.stop()
            (reason,) = _reasons(client)
            assert reason.startswith(("database unreachable", "database did not answer"))
            server.start()
            _eventually(lambda: _reasons(client) == [])
    finally:
        rt.db.dispose()


def test_readyz_is_503_while_the_schema_is_behind_this_release(client: TestClient, directory: Runtime) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    (head,) = script.get_heads()
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    with directory.db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
    assert _reasons(client) == ["database migrations are not current (run `contactvault admin migrate`)"]
    with directory.db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert _reasons(client) == []


def test_readyz_is_503_when_the_keys_are_not_the_ones_that_wrote_the_database(
    client: TestClient, directory: Runtime
) -> None:
    with directory.db.write() as conn:
        conn.execute(update(key_checks).where(key_checks.c.name == "hash_key").values(fingerprint=b"\0" * 32))
    assert _reasons(client) == ["the configured keys are not the ones this database was written with"]


@pytest.mark.parametrize("path", ["/readyz", "/healthz"])
def test_probes_stay_out_of_the_openapi_document(client: TestClient, path: str) -> None:
    assert path not in client.get("/openapi.json").json()["paths"]
