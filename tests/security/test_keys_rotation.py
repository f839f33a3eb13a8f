"""Encryption key rotation: everything is re-sealed under the new key, old tokens open throughout, runs resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from contactvault.cli.main import app as cli
from contactvault.server.crypto import Cipher, KeyMaterial, ReloadingCipher
from contactvault.server.db.tables import contact_points, unlocks, webhook_secrets
from contactvault.server.runtime import Runtime
from contactvault.server.services import keys_rotation, webhooks
from tests.engine import drain, submit
from tests.factories import Account, email_of, make_account


def key_file(rt: Runtime) -> Path:
    """The test's key file."""
    path = rt.settings.encryption_key_file
    assert path is not None
    return path


def tokens(rt: Runtime) -> list[bytes]:
    """Every sealed value."""
    with rt.db.read() as conn:
        return [
            bytes(v)
            for table in (contact_points, unlocks)
            for (v,) in conn.execute(select(table.c.value_encrypted).where(table.c.value_encrypted.is_not(None)))
        ]


def opens_with(key: str, token: bytes) -> bool:
    """Whether this single key opens the token."""
    try:
        Fernet(key.encode()).decrypt(token)
    except InvalidToken:
        return False
    return True


def test_rotation_reseals_everything_and_old_tokens_open_during_it(
    directory: Runtime, client: TestClient, account: Account
) -> None:
    submitted = submit(directory, account, [1, 2, 3])
    drain(directory)
    old_key = KeyMaterial.load(key_file(directory)).fernet_keys[0]
    before = tokens(directory)

    keys = keys_rotation.add_primary_key(key_file(directory))
    assert keys.fernet_keys[1] == old_key
    partial = keys_rotation.reencrypt(directory, keys, batch_size=100, max_batches=1)
    assert not partial.complete
    assert partial.tables["contact_points"].reencrypted == 100
    mixed = tokens(directory)
    assert any(opens_with(keys.fernet_keys[0], t) for t in mixed)
    assert any(opens_with(old_key, t) for t in mixed)
    # The running app was built with the old key only: it re-reads the key file and opens both kinds.
    polled = client.get(f"/external/contacts/unlock-tasks/{submitted['task_id']}", headers=account.headers).json()
    assert [i["email"] for i in polled["items"]] == [email_of(1), email_of(2), email_of(3)]

    rest = keys_rotation.reencrypt(directory, keys, batch_size=100)
    assert rest.complete
    assert rest.unreadable == 0
    assert keys_rotation.verify(directory, keys) == 0
    after = tokens(directory)
    assert len(after) == len(before)
    assert all(opens_with(keys.fernet_keys[0], t) and not opens_with(old_key, t) for t in after)
    fresh_only = Cipher(KeyMaterial(keys.fernet_keys[:1], keys.hash_key))
    assert sorted(fresh_only.open(t) for t in after) == sorted(Cipher(keys).open(t) for t in before)

    again = keys_rotation.reencrypt(directory, keys)
    assert sum(t.reencrypted for t in again.tables.values()) == 0
    assert tokens(directory) == after

    assert keys_rotation.retire_old_keys(key_file(directory)).fernet_keys == keys.fernet_keys[:1]
    polled = client.get(f"/external/contacts/unlock-tasks/{submitted['task_id']}", headers=account.headers).json()
    assert polled["items"][0]["email"] == email_of(1)


def test_a_row_changed_during_the_pass_is_left_to_the_change(directory: Runtime, account: Account) -> None:
    submit(directory, account, [1])
    drain(directory)
    keys = keys_rotation.add_primary_key(key_file(directory))
    with directory.db.read() as conn:
        row_id, token = conn.execute(select(unlocks.c.id, unlocks.c.value_encrypted)).one()
    rotated = Cipher(keys).rotate(token)
    with directory.db.write() as conn:  # an erasure lands between the read and the write of a batch
        conn.execute(unlocks.update().values(value_encrypted=None))
    written = keys_rotation._write_batch(directory.db, "unlocks", [(row_id, token, rotated)])
    assert written == 0


def test_the_reloading_cipher_refuses_a_different_hash_key(directory: Runtime) -> None:
    inner = Cipher(KeyMaterial.load(key_file(directory)))
    other = KeyMaterial.generate()
    cipher = ReloadingCipher(inner, lambda: other)
    foreign = Cipher(other).seal("x@example.test")
    with pytest.raises(InvalidToken):
        cipher.open(foreign)
    assert cipher.lookup_hash("email", "a@b.c") == inner.lookup_hash("email", "a@b.c")


def test_the_cli_rotates_with_a_key_file(directory: Runtime, account: Account, database_url: str) -> None:
    submit(directory, account, [1, 2])
    drain(directory)
    env = {"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(key_file(directory))}
    result = CliRunner().invoke(cli, ["admin", "rotate-encryption-key", "--db", database_url], env=env)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["complete"] is True
    assert printed["keys"] == 2
    assert printed["tables"]["unlocks"]["reencrypted"] == 2
    keys = KeyMaterial.load(key_file(directory))
    assert all(k not in result.stdout for k in keys.fernet_keys)
    assert keys.hash_key not in result.stdout
    retired = CliRunner().invoke(
        cli, ["admin", "rotate-encryption-key", "--resume", "--retire-old-keys", "--db", database_url], env=env
    )
    assert retired.exit_code == 0, retired.output
    assert json.loads(retired.stdout)["staleValues"] == 0
    assert len(KeyMaterial.load(key_file(directory)).fernet_keys) == 1


def test_the_cli_tells_what_to_set_when_keys_come_from_the_environment(directory: Runtime, database_url: str) -> None:
    keys = KeyMaterial.load(key_file(directory))
    env = {"CONTACTVAULT_ENCRYPTION_KEYS": ",".join(keys.fernet_keys), "CONTACTVAULT_HASH_KEY": keys.hash_key}
    before = tokens(directory)
    result = CliRunner().invoke(cli, ["admin", "rotate-encryption-key", "--db", database_url], env=env)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    new_list = printed["set"]["CONTACTVAULT_ENCRYPTION_KEYS"].split(",")
    assert new_list == [printed["newKey"], *keys.fernet_keys]
    assert tokens(directory) == before  # nothing re-sealed until every process has the new key
    env["CONTACTVAULT_ENCRYPTION_KEYS"] = ",".join(new_list)
    resumed = CliRunner().invoke(cli, ["admin", "rotate-encryption-key", "--resume", "--db", database_url], env=env)
    assert resumed.exit_code == 0, resumed.output
    assert all(opens_with(new_list[0], t) for t in tokens(directory))


def test_a_key_file_written_over_a_readable_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{}")
    path.chmod(0o644)  # e.g. restored from a backup by hand
    keys = KeyMaterial.generate()
    keys.dump(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert KeyMaterial.load(path) == keys


def test_rotation_never_writes_keys_into_a_readable_leftover_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    KeyMaterial.generate().dump(path)
    leftover = tmp_path / "keys.json.tmp"  # left by a crash, world-readable
    leftover.write_text("")
    leftover.chmod(0o644)
    fresh = keys_rotation.add_primary_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert KeyMaterial.load(path) == fresh
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "keys.json.tmp") == ["keys.json"]


def test_rotation_reseals_webhook_secrets(rt: Runtime) -> None:
    account = make_account(rt, credit=0)
    created = webhooks.create_endpoint(rt, account.id, "https://hooks.example.com/x")
    old_key = KeyMaterial.load(key_file(rt)).fernet_keys[0]

    keys = keys_rotation.add_primary_key(key_file(rt))
    report = keys_rotation.reencrypt(rt, keys)
    assert report.tables["webhook_secrets"].reencrypted == 1
    assert keys_rotation.verify(rt, keys) == 0
    with rt.db.read() as conn:
        (token,) = conn.execute(select(webhook_secrets.c.value_encrypted)).scalars().all()
    assert opens_with(keys.fernet_keys[0], bytes(token))
    assert not opens_with(old_key, bytes(token))
    assert Cipher(KeyMaterial(keys.fernet_keys[:1], keys.hash_key)).open(bytes(token)) == created.secret
