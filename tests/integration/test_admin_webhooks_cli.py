"""``contactvault admin webhooks``: create (secret once), list, update, rotate, test, attempts, delete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactvault.cli.main import app
from contactvault.webhooks import decode_secret

runner = CliRunner()


@pytest.fixture
def db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database the commands run on (each backend); its keys in a temporary file."""
    monkeypatch.setenv("CONTACTVAULT_ENCRYPTION_KEY_FILE", str(tmp_path / "keys.json"))
    return database_url


def run(*args: str) -> tuple[int, dict, str]:
    result = runner.invoke(app, list(args))
    out = json.loads(result.stdout) if result.exit_code == 0 and result.stdout.strip() else {}
    return result.exit_code, out, result.stderr


def test_admin_webhooks_lifecycle(db: str) -> None:
    account = str(run("admin", "account", "create", "--name", "Acme", "--db", db)[1]["accountId"])
    base = ("--account", account, "--db", db)
    code, created, _ = run(
        "admin", "webhooks", "create", *base, "--url", "https://hooks.example.com/a", "--event", "unlock_task.completed"
    )
    assert code == 0
    assert len(decode_secret(created["secret"])) == 32
    endpoint = created["id"]
    code, listed, _ = run("admin", "webhooks", "list", *base)
    assert listed["endpoints"] == [{k: v for k, v in created.items() if k != "secret"}]
    assert "secret" not in json.dumps(listed)
    code, updated, _ = run("admin", "webhooks", "update", endpoint, *base, "--disable")
    assert (code, updated["enabled"]) == (0, False)
    code, rotated, _ = run("admin", "webhooks", "rotate-secret", endpoint, *base, "--overlap", "1h")
    assert code == 0
    assert rotated["secret"] != created["secret"]
    code, test, _ = run("admin", "webhooks", "test", endpoint, *base)
    assert code == 0
    assert test["messageId"].startswith("msg_")
    assert run("admin", "webhooks", "attempts", endpoint, *base)[1] == {"attempts": []}
    assert run("admin", "webhooks", "delete", endpoint, *base)[1] == {"id": endpoint, "deleted": True}


def test_admin_webhooks_refuses_bad_input_with_one_line(db: str) -> None:
    account = str(run("admin", "account", "create", "--name", "Acme", "--db", db)[1]["accountId"])
    code, _, err = run("admin", "webhooks", "create", "--account", account, "--db", db, "--url", "http://x.example/")
    assert code == 2
    assert err.startswith("error: url must be https://")
    code, _, err = run("admin", "webhooks", "delete", "123", "--account", account, "--db", db)
    assert code == 1
    assert "not found" in err
    assert run("admin", "webhooks", "list", "--account", account, "--db", db)[1] == {"endpoints": []}


def test_admin_webhooks_payload_is_thin_unless_asked_and_a_bad_one_is_refused(db: str) -> None:
    account = str(run("admin", "account", "create", "--name", "Acme", "--db", db)[1]["accountId"])
    base = ("--account", account, "--db", db, "--url", "https://hooks.example.com/a")
    code, _, err = run("admin", "webhooks", "create", *base, "--payload", "fat")
    assert code == 2
    assert err.startswith("error: payload must be one of thin, full")
    assert run("admin", "webhooks", "list", "--account", account, "--db", db)[1] == {"endpoints": []}
    assert run("admin", "webhooks", "create", *base)[1]["payload"] == "thin"
    code, full, _ = run("admin", "webhooks", "create", *base, "--payload", "full")
    assert (code, full["payload"]) == (0, "full")
    code, _, err = run("admin", "webhooks", "update", full["id"], *base[:4], "--payload", "fat", "--disable")
    assert code == 2
    assert "payload" in err
    code, thin, _ = run("admin", "webhooks", "update", full["id"], *base[:4], "--payload", "thin")
    assert (code, thin["payload"], thin["enabled"]) == (0, "thin", True)  # the refused update changed nothing
