"""``contactvault sync --to csv|jsonl`` against the live server: the file is the store it reads back."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.server.services import erasure
from tests.factories import email_of

from .conftest import CLI, LiveServer
from .sync_helpers import EPOCH, plan_of, sync, unlock

IDS = (241, 242, 243)


def rows(path: Path, fmt: str) -> list[dict[str, str]]:
    """The file's records."""
    text = path.read_text(encoding="utf-8")
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def unlocked(connected: CLI) -> CLI:
    """The CLI with 241, 242 and 243's emails delivered to its account."""
    return unlock(connected, IDS)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_create_then_skip_unchanged_then_update_changed_fields(unlocked: CLI, tmp_path: Path, fmt: str) -> None:
    out, point = tmp_path / f"contacts.{fmt}", tmp_path / "cp.json"
    first = sync(unlocked, point, "--to", fmt, "--out", str(out))
    assert first["counts"] == {"create": 3, "update": 0, "skip": 0, "conflict": 0}
    written = rows(out, fmt)
    assert [(r["contactvault_id"], r["email"]) for r in written] == [(str(i), email_of(i)) for i in IDS]
    assert {r["contactvault_source"] for r in written} == {"contactvault"}
    assert all(r["contactvault_unlocked_at"] and r["contactvault_verification_status"] for r in written)
    assert Checkpoint.load(point).since == max(r["contactvault_unlocked_at"] for r in written)

    before = out.read_bytes()
    again = sync(unlocked, point, "--to", fmt, "--out", str(out), "--since", EPOCH)
    assert again["counts"]["skip"] == 3
    assert again["calls"] == []
    assert out.read_bytes() == before

    status = written[1]["contactvault_verification_status"]
    written[1]["contactvault_verification_status"] = "stale"
    out.write_text("".join(json.dumps(r) + "\n" for r in written) if fmt == "jsonl" else _csv(written))
    third = sync(unlocked, point, "--to", fmt, "--out", str(out), "--since", EPOCH)
    assert [a for a in plan_of(third) if a[0] != "skip"] == [
        (
            "update",
            "242",
            {"contactvault_verification_status": ["stale", status]},
        )
    ]


def _csv(records: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def test_a_record_of_another_person_with_the_same_email_is_a_conflict(unlocked: CLI, tmp_path: Path) -> None:
    out = tmp_path / "contacts.jsonl"
    theirs = {"contactvault_id": "999", "email": email_of(242), "phone": "keep"}
    out.write_text(json.dumps(theirs) + "\n")
    report = sync(unlocked, tmp_path / "cp.json", "--to", "jsonl", "--out", str(out))
    assert [(a, pid) for a, pid, _ in plan_of(report)] == [("create", "241"), ("conflict", "242"), ("create", "243")]
    assert rows(out, "jsonl")[0] == theirs


def test_if_empty_and_never_policies_leave_existing_values(unlocked: CLI, tmp_path: Path) -> None:
    out, mapping = tmp_path / "contacts.jsonl", tmp_path / "map.toml"
    mapping.write_text(
        '[fields.contactvault_verification_status]\npolicy = "if_empty"\n'
        '[fields.contactvault_unlocked_at]\nto = "unlocked"\npolicy = "never"\n'
    )
    sync(unlocked, tmp_path / "cp.json", "--to", "jsonl", "--out", str(out), "--mapping", str(mapping))
    edited = rows(out, "jsonl")
    assert set(edited[0]) == {"email", "contactvault_id", "contactvault_verification_status", "unlocked"}
    edited[0].update(contactvault_verification_status="mine", unlocked="then")
    edited[1].update(contactvault_verification_status="")
    out.write_text("".join(json.dumps(r) + "\n" for r in edited))
    report = sync(unlocked, tmp_path / "cp.json", "--to", "jsonl", "--out", str(out), "--mapping", str(mapping))
    assert [(a, pid, list(ch)) for a, pid, ch in plan_of(report) if a != "skip"] == [
        ("update", "242", ["contactvault_verification_status"])
    ]


def test_a_bad_mapping_file_is_a_usage_error_naming_the_field(unlocked: CLI, tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[fields.email]\npolicy = "sometimes"\n')
    result = unlocked("sync", "--to", "csv", "--out", str(tmp_path / "x.csv"), "--mapping", str(mapping))
    assert result.exit_code == 2
    assert "fields.email.policy" in result.stderr
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_dry_run_plans_what_the_run_does_and_writes_nothing(unlocked: CLI, tmp_path: Path, fmt: str) -> None:
    out, point = tmp_path / f"contacts.{fmt}", tmp_path / "cp.json"
    planned = sync(unlocked, point, "--to", fmt, "--out", str(out), "--dry-run")
    assert not out.exists()
    assert not point.exists()
    assert email_of(241) not in json.dumps(planned)
    assert planned["plan"][0]["email"] == "p***@" + email_of(241).split("@")[1]
    done = sync(unlocked, point, "--to", fmt, "--out", str(out))
    assert plan_of(planned) == plan_of(done)
    assert planned["calls"] == done["calls"]
    shown = sync(unlocked, point, "--to", fmt, "--out", str(out), "--dry-run", "--show-pii", "--since", EPOCH)
    assert shown["plan"][0]["email"] == email_of(241)


def test_a_crash_before_the_checkpoint_then_a_rerun_duplicates_nothing(
    unlocked: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, point = tmp_path / "contacts.csv", tmp_path / "cp.json"

    def crash(self: Checkpoint) -> None:
        raise RuntimeError("killed after the write, before the checkpoint")

    with monkeypatch.context() as patch:
        patch.setattr(Checkpoint, "commit", crash)
        crashed = unlocked("sync", "--to", "csv", "--out", str(out), "--checkpoint", str(point))
    assert crashed.exit_code == 1
    assert len(rows(out, "csv")) == 3
    assert not point.exists()
    rerun = sync(unlocked, point, "--to", "csv", "--out", str(out))
    assert rerun["counts"]["skip"] == 3
    assert rerun["calls"] == []
    assert [r["contactvault_id"] for r in rows(out, "csv")] == ["241", "242", "243"]


def test_text_that_a_spreadsheet_would_run_is_guarded_and_read_back(tmp_path: Path) -> None:
    from contactvault.cli.client.sync.plan import Contact, FieldMap, decide
    from contactvault.cli.client.sync.targets import FileTarget

    fields = FieldMap({"email": ("email", "overwrite"), "contactvault_source": ("source", "overwrite")})
    contact = Contact("7", {"email": "a@b.co", "contactvault_source": "=HYPERLINK(1)"})
    target = FileTarget(tmp_path / "x.csv", "csv")
    target.apply([decide(contact, None, fields)])
    assert "'=HYPERLINK(1)" in (tmp_path / "x.csv").read_text()
    reread = FileTarget(tmp_path / "x.csv", "csv")
    assert decide(contact, reread.read([contact], fields)["7"], fields).kind == "skip"


def test_task_and_state_file_sources_and_the_checkpoint_source(
    connected: CLI, tmp_path: Path, state_file: Path
) -> None:
    first = connected.json("unlock", "--event", "100", "--ids", "241", "--yes")
    point = tmp_path / "cp.json"
    sync(connected, point, "--to", "jsonl", "--out", str(tmp_path / "a.jsonl"))
    second = connected.json("unlock", "--event", "100", "--ids", "242,243", "--yes")
    (task,) = second["taskIds"]
    by_task = sync(connected, tmp_path / "t.json", "--to", "jsonl", "--out", str(tmp_path / "t.jsonl"), "--task", task)
    assert [pid for _, pid, _ in plan_of(by_task)] == ["242", "243"]
    by_state = sync(
        connected,
        tmp_path / "s.json",
        "--to",
        "jsonl",
        "--out",
        str(tmp_path / "s.jsonl"),
        "--from-state",
        str(state_file),
    )
    assert [pid for _, pid, _ in plan_of(by_state)] == ["241", "242", "243"]
    since_last = sync(connected, point, "--to", "jsonl", "--out", str(tmp_path / "a.jsonl"))
    assert [(a, pid) for a, pid, _ in plan_of(since_last)] == [("skip", "241"), ("create", "242"), ("create", "243")]
    assert len(first["taskIds"]) == 1


def test_erasures_flag_the_rows_the_sync_created(connected: CLI, live: LiveServer, tmp_path: Path) -> None:
    out, point = tmp_path / "contacts.jsonl", tmp_path / "cp.json"
    connected.json("unlock", "--event", "100", "--ids", "246,241", "--yes")
    sync(connected, point, "--to", "jsonl", "--out", str(out))
    erasure.erase_person(live.rt, 246)
    result = connected("sync", "--to", "jsonl", "--out", str(out), "--checkpoint", str(point), "--erasures")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "flag 1 row(s) in contacts.jsonl"
    by_id = {row["contactvault_id"]: row for row in rows(out, "jsonl")}
    flagged, kept = by_id["246"], by_id["241"]
    assert (flagged["contactvault_id"], flagged["contactvault_erased"], flagged["email"]) == ("246", "true", "")
    assert kept["email"] == email_of(241)
    assert "contactvault_erased" not in kept
