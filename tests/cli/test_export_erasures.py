"""``contactvault export`` first drops what the server says was erased or opted out (GET /contacts/erased)."""

from __future__ import annotations

import csv
import io
import re
import shlex
import sqlite3
from pathlib import Path

import pytest

from contactvault.server.services import erasure
from contactvault.server.services import suppressions as opt_out
from tests.e2e.processes import free_port
from tests.factories import email_of, phone_of

from .conftest import CLI, LiveServer

# People no other CLI test unlocks (erasing them on the shared server must not disturb those tests).
ERASED, OPTED_OUT, KEPT = 282, 285, 294  # all have phones too (every 3rd id)


def exported(cli: CLI, *args: str) -> list[tuple[str, str]]:
    """(personnel_id, address) of every exported row."""
    result = cli("export", *args)
    assert result.exit_code == 0, result.output
    column = "phone" if "--phone" in args else "email"
    return [(r["personnel_id"], r[column]) for r in csv.DictReader(io.StringIO(result.stdout))]


def test_an_erased_contact_vanishes_from_export_and_the_state_file(
    connected: CLI, live: LiveServer, state_file: Path
) -> None:
    ids = f"{ERASED},{OPTED_OUT},{KEPT}"
    connected.json("unlock", "--event", "100", "--ids", ids, "--yes")
    connected.json("unlock", "--event", "100", "--ids", f"{ERASED},{OPTED_OUT}", "--phone", "--yes")
    assert exported(connected) == [(str(i), email_of(i)) for i in (ERASED, OPTED_OUT, KEPT)]

    erasure.erase_person(live.rt, ERASED)
    opt_out.suppress(live.rt, "email", email_of(OPTED_OUT))  # the address only: the phone stays
    result = connected("export")
    assert result.exit_code == 0, result.output
    assert "erased contacts: 3 removed from the state file" in result.stderr  # 282 email+phone, 285 email
    assert [r["personnel_id"] for r in csv.DictReader(io.StringIO(result.stdout))] == [str(KEPT)]
    assert exported(connected, "--phone") == [(str(OPTED_OUT), phone_of(OPTED_OUT))]
    # Gone from the file itself, name included, not just from this export.
    with sqlite3.connect(state_file) as db:
        kept = db.execute("SELECT personnel_id, channel FROM contacts ORDER BY 1, 2").fetchall()
        names = {pid for (pid,) in db.execute("SELECT personnel_id FROM people")}
    assert kept == [(str(OPTED_OUT), "phone"), (str(KEPT), "email")]
    assert str(ERASED) not in names
    assert str(OPTED_OUT) in names


def test_offline_or_unreachable_exports_the_file_as_it_is_and_says_so(
    connected: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    connected.json("unlock", "--event", "100", "--ids", "1", "--yes")
    offline = connected("export", "--offline")
    assert offline.exit_code == 0
    assert "erased" not in offline.stderr
    assert len(offline.stdout.splitlines()) == 2

    monkeypatch.setenv("CONTACTVAULT_BASE_URL", f"http://127.0.0.1:{free_port()}")
    unreachable = connected("export")
    assert unreachable.exit_code == 0
    assert "Not checked for erased contacts" in unreachable.stderr
    assert len(unreachable.stdout.splitlines()) == 2

    monkeypatch.delenv("CONTACTVAULT_API_KEY")
    no_key = connected("export")
    assert no_key.exit_code == 0
    assert "Not checked for erased contacts" in no_key.stderr


def test_the_more_rows_hint_names_a_command_that_finds_them(connected: CLI, tmp_path: Path) -> None:
    own = tmp_path / "elsewhere" / "runs.db"
    ids = ",".join(str(i) for i in range(31, 60) if i % 10)  # 27 people, all with emails: more than a table shows
    result = connected("unlock", "--event", "100", "--ids", ids, "--yes", "--state-file", str(own))
    assert result.exit_code == 0, result.output
    hint = re.search(r"more: `(contactvault export [^`]*)` writes them all", result.stdout)
    assert hint is not None, result.stdout
    command = shlex.split(hint.group(1))
    assert "--state-file" in command  # a plain `contactvault export` would read the default state file
    rows = exported(connected, *command[2:])
    assert len(rows) == 27
