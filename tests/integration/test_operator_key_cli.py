"""``contactvault admin operator-key create|list|revoke``: scoped operator keys, shown once, hashed at rest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from contactvault.cli.main import app
from contactvault.server.db.engine import make_engine

runner = CliRunner()


@pytest.fixture
def db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database the commands run on (each backend); its keys in a temporary file."""
    monkeypatch.setenv("CONTACTVAULT_ENCRYPTION_KEY_FILE", str(tmp_path / "keys.json"))
    return database_url


def stored_hashes(url: str) -> list[bytes]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [bytes(row[0]) for row in conn.execute(text("SELECT secret_hash FROM operator_keys"))]
    finally:
        engine.dispose()


def run(*args: str) -> tuple[int, dict[str, object], str]:
    result = runner.invoke(app, list(args))
    out = json.loads(result.stdout) if result.exit_code == 0 and result.stdout.strip() else {}
    return result.exit_code, out, result.stderr


def test_create_list_and_revoke_an_operator_key(db: str) -> None:
    code, created, _ = run(
        "admin", "operator-key", "create", "--scope", "credits", "--scope", "accounts", "--label", "billing", "--db", db
    )
    assert code == 0
    assert created["scopes"] == ["accounts", "credits"]
    secret = str(created["operatorKey"])
    assert secret.startswith(f"cvop_{created['keyId']}_")
    code, listed, _ = run("admin", "operator-key", "list", "--db", db)
    assert code == 0
    keys = listed["operatorKeys"]
    assert isinstance(keys, list)
    [key] = keys
    assert (key["keyId"], key["scopes"], key["label"], key["state"]) == (
        created["keyId"],
        ["accounts", "credits"],
        "billing",
        "active",
    )
    assert secret not in json.dumps(listed)
    assert stored_hashes(db) == [hashlib.sha256(secret.split("_", 2)[2].encode()).digest()]
    code, revoked, _ = run("admin", "operator-key", "revoke", str(created["keyId"]), "--db", db)
    assert (code, revoked) == (0, {"keyId": created["keyId"], "revoked": True})
    assert run("admin", "operator-key", "list", "--db", db)[1]["operatorKeys"][0]["state"] == "revoked"  # type: ignore[index]


@pytest.mark.parametrize("scopes", [[], ["--scope", "billing"]])
def test_a_scope_is_required_and_must_be_known(db: str, scopes: list[str]) -> None:
    code, _, err = run("admin", "operator-key", "create", *scopes, "--db", db)
    assert code == 2
    assert "scope" in err.lower()


def test_revoking_an_unknown_key_fails(db: str) -> None:
    code, _, err = run("admin", "operator-key", "revoke", "00000000", "--db", db)
    assert code == 1
    assert "not found" in err.lower()
