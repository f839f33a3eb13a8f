"""A node started with other keys than the ones that wrote the database refuses to run."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactvault.cli.main import app
from contactvault.server.bootstrap import KeyMismatch, build_runtime
from contactvault.server.config import Settings
from contactvault.server.crypto import KeyMaterial


def test_the_same_keys_start_again(settings: Settings) -> None:
    build_runtime(settings).db.dispose()
    build_runtime(settings).db.dispose()


def test_other_keys_are_refused_with_a_clear_message(settings: Settings, tmp_path: Path) -> None:
    build_runtime(settings).db.dispose()
    other = tmp_path / "other-keys.json"
    KeyMaterial.generate().dump(other)
    with pytest.raises(KeyMismatch, match="not the ones this database was written with"):
        build_runtime(settings.model_copy(update={"encryption_key_file": other}))


def test_a_rotated_encryption_key_with_the_same_hash_key_is_accepted(settings: Settings, tmp_path: Path) -> None:
    build_runtime(settings).db.dispose()
    assert settings.encryption_key_file is not None
    keys = KeyMaterial.load(settings.encryption_key_file)
    rotated = tmp_path / "rotated.json"
    KeyMaterial((KeyMaterial.generate().fernet_keys[0], *keys.fernet_keys), keys.hash_key).dump(rotated)
    build_runtime(settings.model_copy(update={"encryption_key_file": rotated})).db.dispose()


def test_the_cli_says_so_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()
    assert runner.invoke(app, ["admin", "migrate", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["admin", "account", "create", "--name", "x", "--db", db]).exit_code == 0
    other = tmp_path / "other.json"
    KeyMaterial.generate().dump(other)
    monkeypatch.setenv("CONTACTVAULT_ENCRYPTION_KEY_FILE", str(other))
    result = runner.invoke(app, ["admin", "account", "create", "--name", "y", "--db", db])
    assert result.exit_code == 1
    assert "not the ones this database was written with" in result.stderr
    assert "Traceback" not in result.stderr
