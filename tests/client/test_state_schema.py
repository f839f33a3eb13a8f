"""The state file keeps each delivered value's source, and files written before that (schema 1) are migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from contactvault import StateStore, UnlockTask
from contactvault.client.state import SCHEMA_VERSION
from tests.client.test_state import plan_run

# The contacts table as schema 1 wrote it (the other tables did not change).
V1_CONTACTS = """
CREATE TABLE contacts (
    personnel_id TEXT NOT NULL, channel TEXT NOT NULL, event_id TEXT NOT NULL, value TEXT NOT NULL,
    full_name TEXT, title TEXT, company_name TEXT, verification TEXT, unlocked_at TEXT, run_id TEXT,
    task_id TEXT, PRIMARY KEY (personnel_id, channel));
"""


def inferred_task() -> UnlockTask:
    return UnlockTask.model_validate({
        "taskId": "56", "taskStatus": "completed", "items": [
            {"personnelId": "1", "status": "unlocked", "email": "ann@acme.test", "creditsCharged": 15,
             "verification": {"status": "accept_all", "score": 61}, "source": "pattern"},
            {"personnelId": "2", "status": "unlocked", "email": "bob@acme.test", "creditsCharged": 15,
             "verification": {"status": "valid", "score": 95}, "source": "vault"},
        ],
    })  # fmt: skip


def _columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        names = [row[1] for row in db.execute("PRAGMA table_info(contacts)")]
    db.close()
    return names


def _version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
    db.close()
    return version


def test_a_delivered_contact_keeps_the_source_its_item_named(state_file: Path) -> None:
    with StateStore(state_file) as store:
        plan_run(store)
        store.record_task_result("r1", 0, inferred_task(), credits_charged=30)
    with StateStore(state_file) as store:
        sources = {c.personnel_id: c.source for c in store.delivered_contacts()}
    assert sources == {"1": "pattern", "2": "vault"}
    assert (_version(state_file), SCHEMA_VERSION) == (2, 2)


def test_a_schema_1_file_gains_the_source_column_and_keeps_its_contacts(state_file: Path) -> None:
    StateStore(state_file).close()
    with sqlite3.connect(state_file) as db:  # make it the file schema 1 wrote, with one contact in it
        db.execute("DROP TABLE contacts")
        db.executescript(V1_CONTACTS)
        db.execute(
            "INSERT INTO contacts VALUES ('9', 'email', '100', 'old@acme.test', 'Old', NULL, 'Acme',"
            " NULL, '2026-01-01T00:00:00Z', 'r0', '1')"
        )
        db.execute("PRAGMA user_version = 1")
    db.close()
    assert "source" not in _columns(state_file)

    with StateStore(state_file) as store:
        (old,) = store.delivered_contacts()
        assert (old.personnel_id, old.value, old.source) == ("9", "old@acme.test", None)
        plan_run(store)
        store.record_task_result("r1", 0, inferred_task(), credits_charged=30)
        assert {c.personnel_id: c.source for c in store.delivered_contacts()} == {
            "9": None,
            "1": "pattern",
            "2": "vault",
        }
    assert _columns(state_file)[-1] == "source"
    assert _version(state_file) == 2
    with StateStore(state_file) as store:  # opening a migrated file again changes nothing
        assert len(store.delivered_contacts()) == 3
