"""``contactvault admin user ...``: create (password from a hidden prompt typed twice, or stdin), list, disable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactvault.cli.main import app

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/admin.db"


@pytest.fixture
def account_id(db: str) -> str:
    result = runner.invoke(app, ["admin", "account", "create", "--name", "Acme Sales", "--db", db])
    assert result.exit_code == 0, result.stderr
    return str(json.loads(result.stdout)["accountId"])


def run(*args: str, stdin: str | None = None) -> tuple[int, dict[str, object], str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    out = json.loads(result.stdout) if result.exit_code == 0 and result.stdout.strip() else {}
    return result.exit_code, out, result.stdout, result.stderr


def test_create_list_and_disable_a_user(db: str, account_id: str, tmp_path: Path) -> None:
    code, user, stdout, stderr = run(
        "admin", "user", "create", "--account", account_id, "--email", "Jane@Example.com", "--password-stdin",
        "--db", db, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, stderr
    assert (user["email"], user["accountId"], user["state"]) == ("jane@example.com", account_id, "active")
    assert PASSWORD not in stdout + stderr
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("admin.db*"))
    assert PASSWORD.encode() not in raw
    assert b"$argon2id$" in raw

    code, listed, _, _ = run("admin", "user", "list", "--account", account_id, "--db", db)
    assert code == 0
    assert [u["email"] for u in listed["users"]] == ["jane@example.com"]  # type: ignore[attr-defined]

    code, disabled, _, _ = run("admin", "user", "disable", "--email", "jane@example.com", "--db", db)
    assert code == 0
    assert (disabled["state"], disabled["sessionsEnded"]) == ("disabled", 0)
    assert disabled["disabledAt"] is not None


def test_the_password_is_typed_twice_at_a_hidden_prompt(db: str, account_id: str) -> None:
    typed = f"{PASSWORD}\nnot the same password\n{PASSWORD}\n{PASSWORD}\n"
    code, user, stdout, stderr = run(
        "admin", "user", "create", "--account", account_id, "--email", "jane@example.com", "--db", db, stdin=typed
    )
    assert code == 0, stderr
    assert user["email"] == "jane@example.com"
    assert PASSWORD not in stdout + stderr  # the prompt hides what is typed


@pytest.mark.parametrize(
    ("email", "password", "code", "message"),
    [
        ("jane@example.com", "too short", 2, "password must be at least 12 characters"),
        ("not-an-email", PASSWORD, 2, "email must be an email address"),
        ("jane@example.com", "", 2, "no password given"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_creates_nothing(
    db: str, account_id: str, email: str, password: str, code: int, message: str
) -> None:
    exit_code, _, _, stderr = run(
        "admin", "user", "create", "--account", account_id, "--email", email, "--password-stdin", "--db", db,
        stdin=password + "\n",
    )  # fmt: skip
    assert exit_code == code
    assert stderr.startswith("error: ")
    assert message in stderr
    if password:
        assert password not in stderr
    assert run("admin", "user", "list", "--account", account_id, "--db", db)[1] == {"users": []}


def test_a_taken_email_or_an_unknown_account_exits_1(db: str, account_id: str) -> None:
    create = ("admin", "user", "create", "--email", "jane@example.com", "--password-stdin", "--db", db)
    assert run(*create, "--account", account_id, stdin=PASSWORD + "\n")[0] == 0
    code, _, _, stderr = run(*create, "--account", account_id, stdin=PASSWORD + "\n")
    assert (code, stderr.strip()) == (1, "error: A user with this email already exists.")
    code, _, _, stderr = run(*create, "--account", "12345", stdin=PASSWORD + "\n")
    assert code == 1
    assert "not found" in stderr
    code, _, _, stderr = run("admin", "user", "disable", "--email", "nobody@example.com", "--db", db)
    assert (code, stderr.strip()) == (1, "error: No user with this email.")
