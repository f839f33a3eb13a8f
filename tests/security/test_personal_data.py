"""After a full workflow, no API key and no revealed address is in the database file, a dump, or any log line."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import make_url

from contactvault.server.db.tables import metadata
from contactvault.server.logs import JsonFormatter, TextFormatter
from contactvault.server.runtime import Runtime
from tests.factories import Account
from tests.security.workflow import Workflow, run_workflow


class Capture(logging.Handler):
    """Every record, formatted both ways (JSON lines and text)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record and both renderings (not the test's own HTTP client's: it is not the server)."""
        if record.name.startswith(("httpx", "httpcore")):
            return
        self.records.append(record)
        self.lines += [JsonFormatter().format(record), TextFormatter().format(record)]


@pytest.fixture
def captured() -> Iterator[Capture]:
    """A handler on the root logger at DEBUG for the duration of the test."""
    handler = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def leaks(text: str, secrets: set[str]) -> set[str]:
    """Which secrets appear in ``text`` (case-insensitive, as addresses are)."""
    lowered = text.lower()
    return {s for s in secrets if s.lower() in lowered}


def test_the_database_file_holds_no_key_and_no_address_in_clear(workflow: Workflow, directory: Runtime) -> None:
    if not directory.db.is_sqlite:
        pytest.skip("reads the SQLite file itself; the dump test covers every backend")
    path = Path(str(make_url(directory.settings.database_url).database))
    files = [p for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if p.exists()]
    raw = b"".join(p.read_bytes() for p in files)
    assert len(raw) > 100_000  # the directory is in there
    for secret in workflow.secrets:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert secret.encode(encoding) not in raw, f"{secret!r} is in the database file ({encoding})"
    connection = sqlite3.connect(path)
    try:
        dump = "\n".join(connection.iterdump())
    finally:
        connection.close()
    assert "INSERT INTO" in dump
    assert leaks(dump, workflow.secrets) == set()


def test_no_table_holds_a_key_or_an_address_in_clear(workflow: Workflow, directory: Runtime) -> None:
    with directory.db.read() as conn:
        text = "\n".join(repr(tuple(row)) for table in metadata.sorted_tables for row in conn.execute(select(table)))
    assert leaks(text, workflow.secrets) == set()


def test_logs_of_a_full_workflow_hold_no_key_no_email_no_phone(
    captured: Capture, directory: Runtime, client: TestClient, account: Account, other_account: Account
) -> None:
    done = run_workflow(directory, client, [account, other_account])
    client.get(
        "/external/contacts/search",
        params={"company_name": "acme", "person_name": "person1@acme-widgets.test"},
        headers=account.headers,
    )
    client.get("/nowhere/person1@acme-widgets.test", headers=account.headers)
    client.get("/external/credits/balance", headers={"Authorization": f"Bearer {account.api_key}x"})
    text = "\n".join(captured.lines)
    assert leaks(text, done.secrets) == set()
    access = [json.loads(JsonFormatter().format(r)) for r in captured.records if r.name == "contactvault.access"]
    assert len(access) >= 20
    assert {"method", "path", "status", "trace_id", "account_id", "duration_ms"} <= set(access[0])
    assert {a["account_id"] for a in access} >= {str(account.id), str(other_account.id)}
    assert "/external/contacts/unlock-tasks/{task_id}" in {a["path"] for a in access}
    assert all("?" not in a["path"] for a in access)
    assert "/nowhere/{redacted}" in {a["path"] for a in access}


def test_revealed_values_are_sealed_at_rest(workflow: Workflow, directory: Runtime) -> None:
    from contactvault.server.db.tables import contact_points, unlocks

    with directory.db.read() as conn:
        sealed = [bytes(v) for (v,) in conn.execute(select(unlocks.c.value_encrypted))]
        sealed += [bytes(v) for (v,) in conn.execute(select(contact_points.c.value_encrypted).limit(50))]
    assert sealed
    opened = {directory.cipher.open(v) for v in sealed}
    assert workflow.revealed <= opened
    assert all(v.startswith(b"gAAAAA") for v in sealed)  # Fernet tokens, never the value itself
