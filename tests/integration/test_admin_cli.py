"""The operator CLI: JSON on stdout, one error line on stderr, exit codes, --db on every command."""

from __future__ import annotations

import gc
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contactvault.cli.main import app

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/admin.db"


def run(*args: str) -> tuple[int, dict[str, object], str]:
    result = runner.invoke(app, list(args))
    out = json.loads(result.stdout) if result.exit_code == 0 and result.stdout.strip() else {}
    return result.exit_code, out, result.stderr


def test_migrate_is_idempotent(db: str) -> None:
    assert run("admin", "migrate", "--db", db)[0] == 0
    assert run("admin", "migrate", "--db", db)[1] == {"migrated": True}


def test_account_key_credits_and_revoke(db: str) -> None:
    code, account, _ = run("admin", "account", "create", "--name", "Acme Sales", "--db", db)
    assert code == 0
    account_id = str(account["accountId"])
    assert account_id.isdigit()
    code, key, _ = run("admin", "key", "create", "--account", account_id, "--label", "ci", "--db", db)
    assert code == 0
    assert str(key["apiKey"]).startswith(f"sk_{key['keyId']}_")
    code, balance, _ = run(
        "admin",
        "credits",
        "grant",
        "--account",
        account_id,
        "--amount",
        "500",
        "--bucket",
        "addon",
        "--expires",
        "2099-01-01T00:00:00+00:00",
        "--db",
        db,
    )
    assert code == 0
    assert (balance["totalBalance"], balance["addonBalance"]) == (500, 500)
    assert balance["addonExpireAt"] == 4070908800000
    code, revoked, _ = run("admin", "key", "revoke", str(key["keyId"]), "--db", db)
    assert (code, revoked["revoked"]) == (0, True)
    assert run("admin", "reconcile", "--db", db)[1]["ok"] is True


def test_the_secret_is_stored_only_as_a_hash(db: str, tmp_path: Path) -> None:
    account_id = str(run("admin", "account", "create", "--name", "x", "--db", db)[1]["accountId"])
    key = str(run("admin", "key", "create", "--account", account_id, "--db", db)[1]["apiKey"])
    secret = key.split("_", 2)[2].encode()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("admin.db*"))
    assert secret not in raw


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("admin", "credits", "grant", "--account", "abc", "--amount", "5"), "account id must be digits"),
        (("admin", "credits", "grant", "--account", "1", "--amount", "5", "--bucket", "gold"), "bucket must be"),
        (("admin", "credits", "grant", "--account", "1", "--amount", "5", "--expires", "soon"), "not ISO 8601"),
        (
            ("admin", "credits", "grant", "--account", "1", "--amount", "5", "--expires", "2099-01-01"),
            "needs a timezone",
        ),
        (("admin", "credits", "grant", "--account", "1", "--amount", "0"), "positive"),
        (("admin", "suppress"), "exactly one of"),
        (("admin", "suppress", "--person", "x1"), "personnel id"),
        (("admin", "suppress", "--email", "bogus"), "--email is not a valid email address"),
        (("admin", "unsuppress", "--email", "a b@example.com"), "--email is not a valid email address"),
        (("admin", "suppress", "--email", "ann..smith@example.com"), "--email is not a valid email address"),
        (("admin", "suppress", "--phone", "01 23 45 67 89"), "--phone is not a valid phone number"),
        (("admin", "suppress", "--phone", "+1 555 0100"), "--phone is not a valid phone number"),
        (("admin", "suppress", "--phone", "+1 555 0100", "--person", "1"), "exactly one of"),
        (("admin", "suppress", "--domain", "jane@example.com"), "--domain is an email address"),
        (("admin", "unsuppress", "--domain", "not a domain"), "--domain is not a valid domain name"),
        (("admin", "suppress", "--domain", "example.com", "--email", "a@example.com"), "exactly one of"),
        (("admin", "erase", "--email", "bogus"), "--email is not a valid email address"),
        (("admin", "erase", "--phone", "12ab"), "--phone is not a valid phone number"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(db: str, args: tuple[str, ...], message: str) -> None:
    code, _, err = run(*args, "--db", db)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_unknown_account_is_exit_1(db: str) -> None:
    code, _, err = run("admin", "key", "create", "--account", "12345", "--db", db)
    assert code == 1
    assert "not found" in err


def test_suppress_and_unsuppress(db: str) -> None:
    code, out, _ = run("admin", "suppress", "--email", "jane@example.com", "--db", db)
    assert (code, out["added"]) == (0, True)
    assert run("admin", "suppress", "--email", "JANE@example.com", "--db", db)[1]["added"] is False
    assert run("admin", "unsuppress", "--email", "jane@example.com", "--db", db)[1]["removed"] is True
    assert run("admin", "unsuppress", "--email", "jane@example.com", "--db", db)[1]["removed"] is False


def test_suppress_and_unsuppress_a_phone_in_any_writing(db: str) -> None:
    code, out, _ = run("admin", "suppress", "--phone", "+44 (0)20 7946 0958", "--db", db)
    assert (code, out) == (0, {"kind": "phone", "suppressed": True, "added": True})
    assert run("admin", "suppress", "--phone", "0044 20 7946 0958", "--db", db)[1]["added"] is False
    assert run("admin", "unsuppress", "--phone", "+442079460958", "--db", db)[1]["removed"] is True


def test_suppress_and_unsuppress_a_domain_in_any_writing(db: str) -> None:
    code, out, _ = run("admin", "suppress", "--domain", "Bücher.Example.", "--db", db)
    assert (code, out) == (0, {"kind": "domain", "suppressed": True, "added": True})
    assert run("admin", "suppress", "--domain", "xn--bcher-kva.example", "--db", db)[1]["added"] is False
    assert run("admin", "unsuppress", "--domain", "BÜCHER.example", "--db", db)[1]["removed"] is True
    assert run("admin", "unsuppress", "--domain", "bücher.example", "--db", db)[1]["removed"] is False


def test_an_email_given_as_a_domain_is_never_put_on_the_list_nor_echoed(db: str, tmp_path: Path) -> None:
    assert run("admin", "migrate", "--db", db)[0] == 0
    code, _, err = run("admin", "suppress", "--domain", "jane.doe@example.com", "--db", db)
    assert code == 2
    assert "jane" not in err
    with closing(sqlite3.connect(tmp_path / "admin.db")) as conn:
        assert conn.execute("SELECT count(*) FROM suppressions").fetchone() == (0,)


def test_a_bad_address_is_never_put_on_the_list(db: str, tmp_path: Path) -> None:
    assert run("admin", "migrate", "--db", db)[0] == 0
    assert run("admin", "suppress", "--email", "bogus", "--db", db)[0] == 2
    with closing(sqlite3.connect(tmp_path / "admin.db")) as conn:
        assert conn.execute("SELECT count(*) FROM suppressions").fetchone() == (0,)


def test_backfill_hashes_computes_missing_canonical_hashes_once(db: str, tmp_path: Path) -> None:
    records = tmp_path / "d.jsonl"
    records.write_text(
        '{"type": "person", "id": "1", "full_name": "Ann Smith"}\n'
        '{"type": "contact_point", "personnel_id": "1", "channel": "email", "value": "Ann@Example.com"}\n'
    )
    assert run("admin", "migrate", "--db", db)[0] == 0
    assert run("admin", "import", str(records), "--db", db)[0] == 0
    with closing(sqlite3.connect(tmp_path / "admin.db")) as conn, conn:
        canonical = conn.execute("SELECT canonical_hash FROM contact_points").fetchone()[0]
        conn.execute("UPDATE contact_points SET canonical_hash = NULL")  # as stored before canonical forms

    code, out, _ = run("admin", "backfill-hashes", "--db", db)

    assert (code, out) == (0, {"scanned": 1, "hashed": 1, "unreadable": 0, "optOutsCarried": 0})
    with closing(sqlite3.connect(tmp_path / "admin.db")) as conn:
        assert conn.execute("SELECT canonical_hash FROM contact_points").fetchone()[0] == canonical
    assert run("admin", "backfill-hashes", "--db", db)[1] == {
        "scanned": 0,
        "hashed": 0,
        "unreadable": 0,
        "optOutsCarried": 0,
    }


def test_every_admin_command_has_help() -> None:
    for args in (
        ("admin",),
        ("admin", "account", "create"),
        ("admin", "key", "create"),
        ("admin", "key", "revoke"),
        ("admin", "key", "rotate"),
        ("admin", "key", "list"),
        ("admin", "credits", "grant"),
        ("admin", "seed"),
        ("admin", "import"),
        ("admin", "suppress"),
        ("admin", "unsuppress"),
        ("admin", "backfill-hashes"),
        ("admin", "reconcile"),
        ("admin", "migrate"),
        ("serve",),
        ("worker",),
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, args
        assert "--db" in result.stdout or args == ("admin",)


def test_every_admin_command_closes_its_connections(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A runtime left open keeps a pooled connection: on PostgreSQL its garbage collection warns (an error here).
    monkeypatch.setenv("CONTACTVAULT_ENCRYPTION_KEY_FILE", str(tmp_path / "keys.json"))
    db = ("--db", database_url)
    account = str(run("admin", "account", "create", "--name", "Acme", *db)[1]["accountId"])
    key = str(run("admin", "key", "create", "--account", account, *db)[1]["keyId"])
    ok = [
        ("admin", "key", "list", *db),
        ("admin", "key", "guardrails", key, "--agent", "off", *db),
        ("admin", "key", "rotate", key, "--overlap", "1h", *db),
        ("admin", "key", "revoke", key, *db),
        ("admin", "credits", "grant", "--account", account, "--amount", "5", *db),
        ("admin", "seed", "--people", "3", "--events", "1", *db),
        ("admin", "backfill-hashes", *db),
        ("admin", "suppress", "--domain", "example.com", *db),
        ("admin", "unsuppress", "--domain", "example.com", *db),
        ("admin", "erase", "--person", "1", *db),
        ("admin", "purge-retention", *db),
        ("admin", "audit", *db),
        ("admin", "keys", "check", *db),
        ("admin", "status", *db),
        ("admin", "usage", "--account", account, "--since", "2026-01-01", "--json", *db),
        ("admin", "user", "list", "--account", account, *db),
        ("admin", "reconcile", *db),
    ]
    for args in ok:
        code, _, err = run(*args)
        assert code == 0, (args, err)
    # A refused command (a domain error inside the runtime) closes them too.
    assert run("admin", "key", "revoke", "00000000", *db)[0] == 1
    gc.collect()  # a leaked connection is collected (and warns) inside this test, not in a later one
