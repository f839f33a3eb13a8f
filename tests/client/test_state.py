"""The state file: private, durable plan-before-submit records, and the queries the CLI needs."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from contactvault import SkippedContact, StateError, StateStore, UnlockTask
from contactvault.client.state import PersonRecord


def plan_run(store: StateStore, run_id: str = "r1", *, event_id: str = "100", channel: str = "email") -> None:
    store.create_run(
        run_id=run_id,
        event_id=event_id,
        channel=channel,  # type: ignore[arg-type]
        base_url="https://cv.test/",
        max_credits=None,
        balance_before=1000,
        requested_count=3,
        people=[PersonRecord("1", "Ann", "CTO", "Acme"), PersonRecord("2", "Bob", None, "Acme")],
        skipped=[SkippedContact("3", "already_unlocked")],
        batches=[(["1", "2"], f"key-{run_id}")],
    )


def completed_task() -> UnlockTask:
    return UnlockTask.model_validate({
        "taskId": "55", "taskStatus": "completed", "items": [
            {"personnelId": "1", "status": "unlocked", "email": "ann@acme.test", "creditsCharged": 15,
             "verification": {"status": "valid", "score": 99}, "completedAt": 1767225600000},
            {"personnelId": "2", "status": "failed", "errorCode": "INELIGIBLE"},
        ],
    })  # fmt: skip


def test_state_file_is_created_private(state_file: Path) -> None:
    with StateStore(state_file):
        pass
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_file.parent.stat().st_mode) == 0o700


def test_an_existing_readable_state_file_is_made_private(state_file: Path) -> None:
    with StateStore(state_file) as store:
        plan_run(store)
    state_file.chmod(0o644)  # e.g. copied from another machine: it holds addresses
    with StateStore(state_file) as store:
        assert [r.run_id for r in store.list_runs()] == ["r1"]  # the data is kept
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600


def test_planned_batches_keep_their_keys_before_anything_is_submitted(state_file: Path) -> None:
    with StateStore(state_file) as store:
        plan_run(store)
    with StateStore(state_file) as store:
        (batch,) = store.batches("r1")
        assert batch.idempotency_key == "key-r1"
        assert batch.personnel_ids == ("1", "2")
        assert batch.task_id is None
        assert not batch.prepared
        assert [r.run_id for r in store.unfinished_runs(base_url="https://cv.test")] == ["r1"]
        assert store.unfinished_runs(base_url="http://elsewhere") == []


def test_prepare_batch_freezes_the_first_body(state_file: Path) -> None:
    with StateStore(state_file) as store:
        plan_run(store)
        assert store.prepare_batch("r1", 0, max_credits=30).max_credits == 30
        assert store.prepare_batch("r1", 0, max_credits=99).max_credits == 30


def test_task_result_records_delivered_and_failed_and_finishes(state_file: Path) -> None:
    with StateStore(state_file) as store:
        plan_run(store)
        store.record_task_id("r1", 0, "55")
        store.record_task_result("r1", 0, completed_task(), credits_charged=15)
        store.finish_run("r1", balance_after=985)
        result = store.run_result("r1")
        assert [c.personnel_id for c in result.delivered] == ["1"]
        delivered = result.delivered[0]
        assert (delivered.email, delivered.full_name, delivered.company_name) == (
            "ann@acme.test",
            "Ann",
            "Acme",
        )
        assert delivered.unlocked_at == "2026-01-01T00:00:00+00:00"
        assert delivered.verification is not None
        assert delivered.verification.score == 99
        assert [(f.personnel_id, f.error_code) for f in result.failed["INELIGIBLE"]] == [("2", "INELIGIBLE")]
        assert result.skipped == (SkippedContact("3", "already_unlocked"),)
        assert result.reconciliation is not None
        assert result.reconciliation.ok
        assert result.task_ids == ("55",)
        assert store.unfinished_runs() == []
        assert store.get_run("r1").is_finished


def test_delivered_contacts_filter_by_event_and_channel(state_file: Path) -> None:
    with StateStore(state_file) as store:
        plan_run(store, "r1", event_id="100")
        plan_run(store, "r2", event_id="200")
        for run_id in ("r1", "r2"):
            store.record_task_result(run_id, 0, completed_task(), credits_charged=15)
        assert len(store.delivered_contacts()) == 1  # one person, one channel: the latest unlock wins
        assert [c.event_id for c in store.delivered_contacts(event_id="200")] == ["200"]
        assert store.delivered_contacts(event_id="100") == []
        assert store.delivered_contacts(channel="phone") == []


def test_list_runs_is_newest_first(state_file: Path) -> None:
    with StateStore(state_file) as store:
        plan_run(store, "r1")
        plan_run(store, "r2")
        assert [r.run_id for r in store.list_runs()] == ["r2", "r1"]
        assert [r.run_id for r in store.list_runs(limit=1)] == ["r2"]


def test_delivered_contact_repr_hides_the_address(state_file: Path) -> None:
    with StateStore(state_file) as store:
        plan_run(store)
        store.record_task_result("r1", 0, completed_task(), credits_charged=15)
        assert "ann@acme.test" not in repr(store.delivered_contacts())


def test_unknown_run_is_a_state_error(state_file: Path) -> None:
    with StateStore(state_file) as store, pytest.raises(StateError):
        store.get_run("nope")


def test_newer_schema_is_refused(state_file: Path) -> None:
    StateStore(state_file).close()
    with sqlite3.connect(state_file) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StateError, match="newer"):
        StateStore(state_file)


def test_not_a_database_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError):
        StateStore(path)


def test_in_memory_store_works() -> None:
    with StateStore(":memory:") as store:
        plan_run(store)
        assert len(store.list_runs()) == 1
