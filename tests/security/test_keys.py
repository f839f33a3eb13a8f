"""API keys: hashes only, throttled last-used stamps, rotation with an overlap, one 401 for every bad key."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from contactvault.cli.main import app as cli
from contactvault.server.clock import FakeClock
from contactvault.server.db.tables import api_keys, audit_log
from contactvault.server.domain.errors import NotFound, StateConflict
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts
from tests.factories import Account

BALANCE = "/external/credits/balance"


def key_row(rt: Runtime, key_id: str) -> Any:
    """The stored row of a key."""
    with rt.db.read() as conn:
        return conn.execute(select(api_keys).where(api_keys.c.id == key_id)).one()


def unauthorized(response: httpx.Response) -> dict[str, Any]:
    """A 401 body without its trace id."""
    assert response.status_code == 401, response.text
    body: dict[str, Any] = response.json()
    body.pop("traceId")
    return body


def test_keys_are_stored_only_as_sha256_hashes(directory: Runtime, account: Account) -> None:
    secret = account.api_key.split("_", 2)[2]
    row = key_row(directory, account.key_id)
    assert row.secret_hash == hashlib.sha256(secret.encode()).digest()
    stored = " ".join(repr(v) for v in row)
    assert secret not in stored
    assert account.api_key not in stored


def test_last_used_is_written_at_most_once_a_minute(
    directory: Runtime, client: TestClient, account: Account, clock: FakeClock
) -> None:
    assert key_row(directory, account.key_id).last_used_at is None
    client.get(BALANCE, headers=account.headers)
    first = key_row(directory, account.key_id).last_used_at
    assert first == clock.now()
    clock.advance(59)
    client.get(BALANCE, headers=account.headers)
    assert key_row(directory, account.key_id).last_used_at == first
    clock.advance(1)
    client.get(BALANCE, headers=account.headers)
    assert key_row(directory, account.key_id).last_used_at == clock.now()


def test_a_failed_authentication_writes_nothing(directory: Runtime, client: TestClient, account: Account) -> None:
    wrong = f"Bearer sk_{account.key_id}_{'x' * 43}"
    assert client.get(BALANCE, headers={"Authorization": wrong}).status_code == 401
    assert key_row(directory, account.key_id).last_used_at is None


def test_rotation_keeps_the_old_key_working_until_the_overlap_ends(
    directory: Runtime, client: TestClient, account: Account, clock: FakeClock
) -> None:
    issued, expires = accounts.rotate_key(directory, account.key_id, timedelta(hours=24))
    assert issued.account_id == account.id
    assert issued.key_id != account.key_id
    assert expires == clock.now() + timedelta(hours=24)
    new_headers = {"Authorization": f"Bearer {issued.api_key}"}
    assert client.get(BALANCE, headers=account.headers).status_code == 200
    assert client.get(BALANCE, headers=new_headers).status_code == 200
    clock.advance(24 * 3600 - 1)
    assert client.get(BALANCE, headers=account.headers).status_code == 200
    clock.advance(1)
    expired = unauthorized(client.get(BALANCE, headers=account.headers))
    assert client.get(BALANCE, headers=new_headers).status_code == 200
    accounts.revoke_key(directory, issued.key_id)
    revoked = unauthorized(client.get(BALANCE, headers=new_headers))
    unknown = unauthorized(client.get(BALANCE, headers={"Authorization": "Bearer sk_0badc0de_" + "A" * 43}))
    missing = unauthorized(client.get(BALANCE))
    assert expired == revoked == unknown == missing


def test_rotation_never_lengthens_a_key_and_refuses_dead_keys(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    issued, first = accounts.rotate_key(directory, account.key_id, timedelta(hours=1))
    # The successor can be rotated in its turn; the shorter life of a key that is being replaced stays.
    _, successor_expiry = accounts.rotate_key(directory, issued.key_id, timedelta(days=7))
    assert successor_expiry == clock.now() + timedelta(days=7)
    assert key_row(directory, account.key_id).expires_at == first
    clock.advance(3600)
    with pytest.raises(StateConflict):
        accounts.rotate_key(directory, account.key_id, timedelta(hours=1))
    with pytest.raises(NotFound):
        accounts.rotate_key(directory, "0badc0de", timedelta(hours=1))


def test_a_key_being_rotated_is_not_rotated_again(directory: Runtime, account: Account, clock: FakeClock) -> None:
    issued, expires = accounts.rotate_key(directory, account.key_id, timedelta(hours=24))
    with pytest.raises(StateConflict) as refused:
        accounts.rotate_key(directory, account.key_id, timedelta(hours=1))
    message = refused.value.message
    assert f"Key {account.key_id} is already being rotated: its successor is {issued.key_id}" in message
    assert expires.isoformat().replace("+00:00", "Z") in message
    assert f"admin key revoke {account.key_id}" in message
    with directory.db.read() as conn:
        keys = conn.execute(select(api_keys.c.id).where(api_keys.c.account_id == account.id)).scalars().all()
    assert sorted(keys) == sorted([account.key_id, issued.key_id])  # no second successor
    assert key_row(directory, account.key_id).expires_at == expires  # the second --overlap changed nothing


def test_the_cli_lists_keys_with_their_state_and_never_a_secret(
    directory: Runtime, account: Account, database_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTACTVAULT_ENCRYPTION_KEY_FILE", str(directory.settings.encryption_key_file))
    # The command runs on the real clock, the test's keys were made on the fake one (2026-01-01): a long overlap.
    issued, expires = accounts.rotate_key(directory, account.key_id, timedelta(days=3650))
    revoked = accounts.create_key(directory, account.id, "old laptop")
    accounts.revoke_key(directory, revoked.key_id)
    result = CliRunner().invoke(cli, ["admin", "key", "list", "--account", str(account.id), "--db", database_url])
    assert result.exit_code == 0, result.output
    listed = {k["keyId"]: k for k in json.loads(result.stdout)["keys"]}
    assert set(listed) == {account.key_id, issued.key_id, revoked.key_id}
    assert listed[account.key_id]["state"] == "expiring"
    assert listed[account.key_id]["expiresAt"] == expires.isoformat().replace("+00:00", "Z")
    assert (listed[issued.key_id]["state"], listed[issued.key_id]["prefix"]) == ("active", f"sk_{issued.key_id}_")
    assert (listed[revoked.key_id]["state"], listed[revoked.key_id]["label"]) == ("revoked", "old laptop")
    assert set(listed[issued.key_id]) == {
        "keyId", "accountId", "prefix", "label", "createdAt", "lastUsedAt", "revokedAt", "expiresAt", "state"
    }  # fmt: skip
    for secret in (account.api_key, issued.api_key, revoked.api_key):
        assert secret.split("_", 2)[2] not in result.stdout
    unknown = CliRunner().invoke(cli, ["admin", "key", "list", "--account", "12345", "--db", database_url])
    assert unknown.exit_code == 1


def test_every_key_change_is_audited(directory: Runtime, account: Account) -> None:
    issued, _ = accounts.rotate_key(directory, account.key_id, timedelta(minutes=5))
    accounts.revoke_key(directory, issued.key_id)
    with directory.db.read() as conn:
        rows = conn.execute(
            select(audit_log.c.action, audit_log.c.subject_id, audit_log.c.detail)
            .where(audit_log.c.subject_type == "api_key")
            .order_by(audit_log.c.id)
        ).all()
    assert [(r.action, r.subject_id) for r in rows] == [
        ("key.create", account.key_id),
        ("key.create", issued.key_id),
        ("key.rotate", account.key_id),
        ("key.revoke", issued.key_id),
    ]
    assert json.loads(rows[2].detail) == {"overlapSeconds": 300, "successor": issued.key_id}
    secret = issued.api_key.split("_", 2)[2]
    assert all(secret not in (r.detail or "") for r in rows)


def test_the_cli_rotates_a_key_and_prints_the_new_one_once(
    directory: Runtime, account: Account, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTACTVAULT_ENCRYPTION_KEY_FILE", str(directory.settings.encryption_key_file))
    result = CliRunner().invoke(
        cli, ["admin", "key", "rotate", account.key_id, "--overlap", "2h", "--db", database_url]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["replaces"] == account.key_id
    assert printed["accountId"] == str(account.id)
    assert printed["apiKey"].startswith(f"sk_{printed['keyId']}_")
    assert key_row(directory, account.key_id).expires_at is not None
    bad = CliRunner().invoke(cli, ["admin", "key", "rotate", account.key_id, "--overlap", "soon", "--db", database_url])
    assert bad.exit_code == 2
