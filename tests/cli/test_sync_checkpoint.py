"""The sync checkpoint: one fsync'd journal line per batch, compaction, crash safety, old and new file formats.

The webhook target is the one that keeps every record sent in its checkpoint, so it is the target these tests drive
(through ``engine.run``, with an ``httpx.MockTransport`` as the receiver).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from contactvault.cli.client.sync import checkpoint, engine
from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.plan import Contact, FieldMap
from contactvault.cli.client.sync.targets import WebhookTarget

from .conftest import CLI

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a test secret, in the Standard Webhooks format
URL = "https://hooks.example/sync"


def people(n: int) -> list[Contact]:
    """``n`` contacts, oldest first, each with an email and the contactvault id."""
    return [Contact(str(i), {"email": f"p{i}@example.com", "contactvault_id": str(i)}, f"{i:04}") for i in range(n)]


def sent_ids(requests: list[httpx.Request]) -> list[str]:
    """Contactvault ids of every record POSTed, in order."""
    return [r["contactvaultId"] for req in requests for r in json.loads(req.content)["data"]["records"]]


def webhook_run(point: Checkpoint, contacts: list[Contact], on_post: Callable[[], None] = lambda: None) -> list[Any]:
    """Sync ``contacts`` to a webhook in batches of 2; the requests received (``on_post`` runs at each)."""
    received: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        on_post()
        received.append(request)
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(receive)) as http:
        target = WebhookTarget(URL, SECRET, point, http)
        target.batch_size = 2
        engine.run(contacts, target, FieldMap.default(), point, dry_run=False)
    return received


def journal_lines(path: Path) -> list[dict[str, Any]]:
    """The journal beside the checkpoint ``path``, parsed ([] when there is none)."""
    journal = path.with_name(path.name + ".journal")
    return [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []


def test_a_batch_appends_one_journal_line_and_the_checkpoint_is_written_once_per_run(tmp_path: Path) -> None:
    path = tmp_path / "sync-webhook.json"
    seen: list[tuple[bool, int]] = []  # at each POST: does the checkpoint file exist, how many journal lines

    webhook_run(Checkpoint.load(path), people(20), lambda: seen.append((path.exists(), len(journal_lines(path)))))

    # Before the journal the whole file (every record sent so far) was rewritten after each batch: O(N²).
    assert seen == [(False, k) for k in range(10)]
    saved = json.loads(path.read_text())
    assert (saved["version"], saved["since"], len(saved["sent"])) == (2, "0019", 20)
    assert journal_lines(path) == []  # compacted at the end of the run
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def bytes_written(folder: Path, records: int) -> tuple[int, int, int]:
    """Commit ``records`` sent records, 5 per batch, then compact: (bytes written, compactions, final size).

    Counted on disk after each commit: a new checkpoint file counts whole, the journal by what it grew.
    """
    path = folder / "cp.json"
    journal = path.with_name(path.name + ".journal")
    point = Checkpoint.load(path)
    written, compactions, last_file, last_journal = 0, 0, None, 0
    for i in range(records):
        point.remember_sent(str(i), {"email": f"person{i}@example.com", "contactvault_source": "event 100"})
        point.since = f"{i:05}"
        if i % 5 < 4:
            continue
        point.commit()
        file = path.stat() if path.exists() else None
        if file is not None and (last_file is None or file.st_mtime_ns != last_file.st_mtime_ns):
            written, compactions = written + file.st_size, compactions + 1
        size = journal.stat().st_size if journal.exists() else 0
        written += size - last_journal if size >= last_journal else size
        assert size <= max(2_000, file.st_size if file else 0) + 500  # a journal never outgrows its checkpoint
        last_file, last_journal = file, size
    point.compact()
    assert Checkpoint.load(path).sent == point.sent
    return written + path.stat().st_size, compactions, path.stat().st_size


def test_compaction_keeps_the_bytes_written_linear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "JOURNAL_MIN_BYTES", 2_000)
    for records in (500, 2_000):
        (tmp_path / str(records)).mkdir()
        written, compactions, final = bytes_written(tmp_path / str(records), records)
        # Rewriting the whole file at every commit (every 5 records) would write about records / 10 times its size.
        assert written < 6 * final, records
        assert compactions <= 12, records  # geometric: the checkpoint grows by a factor between compactions


KILLED_RUN = """
import os, signal
from pathlib import Path
import httpx
from contactvault.cli.client.sync import engine
from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.plan import Contact, FieldMap
from contactvault.cli.client.sync.targets import WebhookTarget

posts = []
def receive(request):
    posts.append(request)
    if len(posts) == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # no finally, no atexit: as a crash
    return httpx.Response(204)

point = Checkpoint.load(Path({path!r}))
values = [{{"email": f"p{{i}}@example.com", "contactvault_id": str(i)}} for i in range(6)]
contacts = [Contact(str(i), v, f"{{i:04}}") for i, v in enumerate(values)]
with httpx.Client(transport=httpx.MockTransport(receive)) as http:
    target = WebhookTarget({url!r}, {secret!r}, point, http)
    target.batch_size = 2
    engine.run(contacts, target, FieldMap.default(), point, dry_run=False)
"""


def test_killed_between_batches_then_rerun_sends_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "sync-webhook.json"
    script = KILLED_RUN.format(path=str(path), url=URL, secret=SECRET)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert killed.returncode == -9, killed.stderr.decode()
    assert len(journal_lines(path)) == 2  # batches 1 and 2 were journaled; the third never answered

    rerun = webhook_run(Checkpoint.load(path), people(6))
    assert sent_ids(rerun) == ["4", "5"]
    assert webhook_run(Checkpoint.load(path), people(6)) == []  # unchanged: nothing is written
    assert sorted(Checkpoint.load(path).created) == [str(i) for i in range(6)]


def test_a_torn_last_journal_line_is_ignored_and_cut_off_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    first = Checkpoint.load(path)
    first.remember_created({"1": "1"})
    first.since = "0001"
    first.commit()
    first.remember_created({"2": "2"})
    first.since = "0002"
    first.commit()
    journal = path.with_name(path.name + ".journal")
    whole = journal.read_bytes()
    journal.write_bytes(whole[:-9])  # the crash cut the second line short: never acknowledged

    torn = Checkpoint.load(path)
    assert (torn.created, torn.since) == ({"1": "1"}, "0001")
    torn.remember_created({"3": "3"})
    torn.since = "0003"
    torn.commit()
    assert [line["since"] for line in journal_lines(path)] == ["0001", "0003"]
    assert Checkpoint.load(path).created == {"1": "1", "3": "3"}


def test_a_garbled_last_line_is_ignored_but_a_garbled_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    point = Checkpoint.load(path)
    point.remember_created({"1": "1"})
    point.commit()
    journal = path.with_name(path.name + ".journal")
    with journal.open("ab") as handle:
        handle.write(b'{"version":2,"gen\x00\x00\n')
    assert Checkpoint.load(path).created == {"1": "1"}
    with journal.open("ab") as handle:
        handle.write(b'{"version":2,"generation":0,"since":null}\n')
    with pytest.raises(ValueError, match=r"cp\.json\.journal line 2: not JSON"):
        Checkpoint.load(path)


def test_lines_left_by_a_compaction_that_crashed_before_removing_the_journal_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    point = Checkpoint.load(path)
    point.remember_sent("7", {"email": "p7@example.com"})
    point.remember_created({"7": "7"})
    point.commit()
    stale = path.with_name(path.name + ".journal").read_bytes()
    point.forget("7")  # erased, then compacted...
    point.save()
    path.with_name(path.name + ".journal").write_bytes(stale)  # ...but the crash came before the journal went

    again = Checkpoint.load(path)
    assert (again.created, again.sent, again.generation) == ({}, {}, 1)


def test_a_version_1_checkpoint_still_loads_and_is_rewritten_as_version_2(tmp_path: Path) -> None:
    path = tmp_path / "sync-webhook.json"
    old = {"created": {"0": "0", "1": "1"}, "since": "0001", "sent": {"0": {"email": "p0@example.com"}}}
    path.write_text(json.dumps(old, indent=2))  # as the first release wrote it (no version, no journal)

    point = Checkpoint.load(path)
    assert (point.since, point.created, point.sent, point.generation) == ("0001", old["created"], old["sent"], 0)
    point.remember_created({"2": "2"})
    point.commit()
    assert json.loads(path.read_text()) == old  # a batch only appends to the journal
    point.compact()
    assert json.loads(path.read_text())["version"] == 2
    assert Checkpoint.load(path).created == {"0": "0", "1": "1", "2": "2"}


def test_a_newer_or_broken_checkpoint_is_a_clear_error_naming_the_file(cli: CLI, tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    path.write_text(json.dumps({"version": 3, "since": None}))
    with pytest.raises(ValueError, match=r"cp\.json: checkpoint version 3 is newer"):
        Checkpoint.load(path)
    result = cli("sync", "--to", "jsonl", "--out", str(tmp_path / "o.jsonl"), "--checkpoint", str(path))
    assert result.exit_code == 1
    assert "error: checkpoint:" in result.stderr
    assert "version 3" in result.stderr
    path.write_text(json.dumps({"version": 2, "created": ["p0@example.com"]}))
    with pytest.raises(ValueError, match=r"'created' has the wrong type \(list\)") as caught:
        Checkpoint.load(path)
    assert "p0@example.com" not in str(caught.value)


def test_the_journal_is_private(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    point = Checkpoint.load(path)
    old = os.umask(0)  # whatever the umask, the journal holds emails: mode 600
    try:
        point.remember_sent("1", {"email": "p1@example.com"})
        point.commit()
    finally:
        os.umask(old)
    assert oct(path.with_name("cp.json.journal").stat().st_mode & 0o777) == "0o600"


def test_only_lines_that_change_the_ledger_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    point = Checkpoint.load(tmp_path / "cp.json")
    point.remember_created({"1": "1"})
    point.commit()
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    point.since = "0002"  # an unchanged batch: only ``since`` moves; a lost line costs a rerun some reads
    point.commit()
    assert synced == []
    point.remember_created({"3": "3"})
    point.commit()
    assert len(synced) == 1
    assert [line["since"] for line in journal_lines(tmp_path / "cp.json")] == [None, "0002", "0002"]


def test_the_documented_checkpoint_and_journal_line_have_the_real_keys(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "sync.md").read_text()
    documented = [json.loads(block) for block in re.findall(r"^```jsonl?\n(.*?)^```", doc, flags=re.S | re.M)]
    path = tmp_path / "sync-webhook.json"
    webhook_run(Checkpoint.load(path), people(2))
    point = Checkpoint.load(path)
    point.remember_created({"9": "9"})
    point.commit()
    real = [json.loads(path.read_text()), journal_lines(path)[0]]
    assert [sorted(d) for d in documented] == [sorted(r) for r in real]
    assert documented[0]["version"] == documented[1]["version"] == checkpoint.VERSION
