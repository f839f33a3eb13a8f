"""The encryption-key canary: a value sealed at migrate time that the configured encryption keys must open at
start, so a node with a wrong or missing encryption key refuses to run (the hash-key fingerprint alone cannot
tell)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, func, select, text
from typer.testing import CliRunner

from contactvault.cli.main import app as cli
from contactvault.server.bootstrap import KeyMismatch, build_runtime
from contactvault.server.config import Settings
from contactvault.server.crypto import KeyMaterial
from contactvault.server.db.engine import make_engine


def _key_file(settings: Settings) -> Path:
    assert settings.encryption_key_file is not None
    return settings.encryption_key_file


def _canary_token(settings: Settings) -> bytes:
    from contactvault.server.db.key_canary import key_canaries

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return bytes(conn.execute(select(key_canaries.c.value_encrypted)).scalar_one())
    finally:
        engine.dispose()


def _opens(key: str, token: bytes) -> bool:
    try:
        Fernet(key.encode()).decrypt(token)
    except InvalidToken:
        return False
    return True


def test_the_first_start_seals_a_canary_under_the_primary_key(settings: Settings) -> None:
    build_runtime(settings).db.dispose()
    keys = KeyMaterial.load(_key_file(settings))
    assert _opens(keys.fernet_keys[0], _canary_token(settings))


def test_a_wrong_encryption_key_with_the_right_hash_key_is_refused(settings: Settings, tmp_path: Path) -> None:
    build_runtime(settings).db.dispose()
    keys = KeyMaterial.load(_key_file(settings))
    wrong = tmp_path / "wrong.json"
    KeyMaterial(KeyMaterial.generate().fernet_keys, keys.hash_key).dump(wrong)
    with pytest.raises(KeyMismatch) as refused:
        build_runtime(settings.model_copy(update={"encryption_key_file": wrong}))
    message = str(refused.value)
    assert "CONTACTVAULT_ENCRYPTION_KEY_FILE" in message
    assert "encryption key" in message
    for secret in (*keys.fernet_keys, keys.hash_key, *KeyMaterial.load(wrong).fernet_keys):
        assert secret not in message


def test_a_wrong_encryption_key_from_the_environment_names_the_variable(settings: Settings) -> None:
    build_runtime(settings).db.dispose()
    keys = KeyMaterial.load(_key_file(settings))
    fresh = Fernet.generate_key().decode()
    env = settings.model_copy(update={"encryption_keys": fresh, "hash_key": keys.hash_key})
    with pytest.raises(KeyMismatch, match="CONTACTVAULT_ENCRYPTION_KEYS") as refused:
        build_runtime(env)
    assert fresh not in str(refused.value)
    assert keys.hash_key not in str(refused.value)
    # With the old key after the new one (a rotation in progress) the node starts.
    build_runtime(env.model_copy(update={"encryption_keys": f"{fresh},{keys.fernet_keys[0]}"})).db.dispose()


def test_rotation_keeps_the_canary_working(settings: Settings) -> None:
    build_runtime(settings).db.dispose()
    old = KeyMaterial.load(_key_file(settings)).fernet_keys[0]
    runner = CliRunner(env={"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(_key_file(settings))})
    rotated = runner.invoke(cli, ["admin", "rotate-encryption-key", "--db", settings.database_url])
    assert rotated.exit_code == 0, rotated.output
    new = KeyMaterial.load(_key_file(settings)).fernet_keys[0]
    assert new != old
    assert _opens(new, _canary_token(settings))
    retired = runner.invoke(cli, ["admin", "rotate-encryption-key", "--retire-old-keys", "--db", settings.database_url])
    assert retired.exit_code == 0, retired.output
    assert KeyMaterial.load(_key_file(settings)).fernet_keys == (new,)
    build_runtime(settings).db.dispose()  # the retired key is no longer needed to start


def test_a_node_without_the_new_key_is_refused_after_a_rotation(settings: Settings, tmp_path: Path) -> None:
    build_runtime(settings).db.dispose()
    before = tmp_path / "before-rotation.json"
    KeyMaterial.load(_key_file(settings)).dump(before)
    runner = CliRunner(env={"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(_key_file(settings))})
    assert runner.invoke(cli, ["admin", "rotate-encryption-key", "--db", settings.database_url]).exit_code == 0
    with pytest.raises(KeyMismatch, match="encryption key"):
        build_runtime(settings.model_copy(update={"encryption_key_file": before}))


def test_a_database_without_a_canary_gets_one_at_the_next_start(settings: Settings) -> None:
    from contactvault.server.db.key_canary import key_canaries

    build_runtime(settings).db.dispose()
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(delete(key_canaries))  # as a database migrated before the canary existed
        rt = build_runtime(settings)
        rt.db.dispose()
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(key_canaries)).scalar_one() == 1
    finally:
        engine.dispose()
    keys = KeyMaterial.load(_key_file(settings))
    assert _opens(keys.fernet_keys[0], _canary_token(settings))


def test_admin_migrate_seals_the_canary_when_the_keys_exist(settings: Settings) -> None:
    runner = CliRunner(env={"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(_key_file(settings))})
    KeyMaterial.generate().dump(_key_file(settings))
    result = runner.invoke(cli, ["admin", "migrate", "--db", settings.database_url])
    assert result.exit_code == 0, result.output
    keys = KeyMaterial.load(_key_file(settings))
    assert _opens(keys.fernet_keys[0], _canary_token(settings))


def test_admin_migrate_without_keys_creates_none(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/fresh.db"
    missing = tmp_path / "missing-keys.json"
    runner = CliRunner(env={"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(missing)})
    result = runner.invoke(cli, ["admin", "migrate", "--db", db])
    assert result.exit_code == 0, result.output
    assert not missing.exists()
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM key_canaries")).scalar_one() == 0
    finally:
        engine.dispose()


@pytest.mark.postgresql
def test_admin_migrate_on_postgresql_ignores_a_stray_key_file_in_the_working_directory(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    KeyMaterial.generate().dump(tmp_path / "data" / "contactvault.keys.json")  # a `make run` leftover, say
    result = CliRunner(env={"CONTACTVAULT_ENCRYPTION_KEY_FILE": None, "CONTACTVAULT_ENCRYPTION_KEYS": None}).invoke(
        cli, ["admin", "migrate", "--db", postgres_url]
    )
    assert result.exit_code == 0, result.output
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM key_checks")).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM key_canaries")).scalar_one() == 0
    finally:
        engine.dispose()
