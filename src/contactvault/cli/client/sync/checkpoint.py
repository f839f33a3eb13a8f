"""Per-target sync progress: a checkpoint file (JSON, mode 600) and an append-only journal beside it.

``since`` is the ``unlockedAt`` of the last contact of the last applied batch (the server's ``since`` is
inclusive, so a rerun re-reads that boundary and finds it unchanged). ``created`` maps personnel id → target
record id for the records this tool created: erasures act on these only. ``sent`` holds the last values sent to a
target that cannot be read back (a webhook), so an unchanged contact is not sent twice.

Rewriting the whole file after every batch made a sync cost O(N²) (a webhook's ``sent`` holds every record sent).
So a batch only **appends** one line to ``<checkpoint>.journal`` (JSON Lines): ``since`` and the records the batch
touched, with their whole current values, and those it forgot; fsync'd when it changes the ledger. ``compact``
folds the journal into the checkpoint (written to a temporary file, fsync'd, renamed over it) and removes the
journal; the engine compacts at the end of a run, and ``commit`` compacts as soon as the journal outgrows the
checkpoint (and ``JOURNAL_MIN_BYTES``), so every byte is rewritten a bounded number of times: the work is linear.

Crash safety: ``load`` replays the journal's lines in order. A last line cut short by a crash (no newline, or not
JSON) is ignored and cut off before the next append. Each checkpoint carries a ``generation``, raised by every
compaction; journal lines carry the generation they extend, so lines left behind by a compaction that crashed
before removing the journal are recognised as already folded in and skipped.

Format (docs/sync.md): the checkpoint is ``{"version": 2, "generation", "since", "created", "sent"}``; a journal
line is ``{"version": 2, "generation", "since", "created", "sent", "forgotten"}``. A version 1 file (no
``version``: ``{"since", "created", "sent"}``) still loads; it is written as version 2 at its first compaction.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contactvault.client.config import default_state_path

__all__ = ["JOURNAL_MIN_BYTES", "VERSION", "Checkpoint", "default_checkpoint_path"]

VERSION = 2
JOURNAL_MIN_BYTES = 256 * 1024  # below this a journal is never worth compacting mid-run


def default_checkpoint_path(target_name: str) -> Path:
    """``sync-<target>.json`` next to the unlock state file."""
    return default_state_path().parent / f"sync-{target_name}.json"


@dataclasses.dataclass
class Checkpoint:
    """Progress of one target: ``remember_*``/``forget`` change it, ``commit`` journals, ``compact``/``save`` write.

    A checkpoint built directly (not by ``load``) owns its path: its first ``commit`` writes the whole file.
    """

    path: Path
    since: str | None = None
    created: dict[str, str] = dataclasses.field(default_factory=dict)
    sent: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    generation: int = 0
    _touched: set[str] = dataclasses.field(default_factory=set, repr=False)
    _forgotten: set[str] = dataclasses.field(default_factory=set, repr=False)
    _journaled_since: str | None = dataclasses.field(default=None, repr=False)
    _journal_bytes: int | None = dataclasses.field(default=None, repr=False)  # valid bytes; None: not loaded
    _journal_torn: bool = dataclasses.field(default=False, repr=False)
    _checkpoint_bytes: int = dataclasses.field(default=0, repr=False)

    @property
    def journal_path(self) -> Path:
        """``<checkpoint>.journal``, beside the checkpoint."""
        return self.path.with_name(self.path.name + ".journal")

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        """The checkpoint at ``path`` with its journal replayed, or an empty one when there is none yet.

        Raises ``ValueError`` naming the file when it is not a checkpoint this version can read.
        """
        point = cls(path)
        if path.exists():
            text = path.read_text(encoding="utf-8")
            point._read_body(_parse(text, str(path)), str(path))
            point._checkpoint_bytes = len(text.encode())
        point._replay()
        point._journaled_since = point.since
        return point

    def remember_created(self, created: Mapping[str, str]) -> None:
        """Personnel id → target record id of records this tool just created."""
        self.created.update(created)
        self._touch(created)

    def remember_sent(self, personnel_id: str, values: Mapping[str, str]) -> None:
        """Values just sent for this person (merged over what was sent before)."""
        self.sent[personnel_id] = {**self.sent.get(personnel_id, {}), **values}
        self._touch([personnel_id])

    def forget(self, personnel_id: str) -> None:
        """Drop this person from the ledger (the record was deleted)."""
        self.created.pop(personnel_id, None)
        self.sent.pop(personnel_id, None)
        self._touched.discard(personnel_id)
        self._forgotten.add(personnel_id)

    def commit(self) -> None:
        """Make the changes since the last commit durable: one journal line; a compaction when it has grown enough."""
        if self._journal_bytes is None:  # built directly: the file on disk (if any) is not ours to extend
            self.save()
            return
        if not (self._touched or self._forgotten or self.since != self._journaled_since):
            return
        entry = {
            "version": VERSION,
            "generation": self.generation,
            "since": self.since,
            "created": {pid: self.created[pid] for pid in sorted(self._touched) if pid in self.created},
            "sent": {pid: self.sent[pid] for pid in sorted(self._touched) if pid in self.sent},
            "forgotten": sorted(self._forgotten),
        }
        # A line that only moves ``since`` is not fsync'd: losing it to a power cut costs a rerun some reads that
        # find the records unchanged, never a duplicate; the next durable line flushes it anyway.
        line = (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode()
        self._append(line, durable=bool(self._touched or self._forgotten))
        self._clear_pending()
        if self._journal_bytes > max(JOURNAL_MIN_BYTES, self._checkpoint_bytes):
            self.save()

    def compact(self) -> None:
        """Fold the journal (and any uncommitted change) into the checkpoint, unless there is nothing to fold."""
        pending = self._touched or self._forgotten or self.since != self._journaled_since
        if self._journal_bytes is None or self._journal_bytes or pending or self._journal_torn:
            self.save()

    def save(self) -> None:
        """Write the whole checkpoint (next generation) atomically and durably, then remove the journal."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "version": VERSION,
            "generation": self.generation + 1,
            "since": self.since,
            "created": self.created,
            "sent": self.sent,
        }
        # Compact JSON: ``indent`` makes json fall back to its pure-Python encoder.
        data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        _write_durably(self.path, data)
        self.generation += 1
        self._checkpoint_bytes = len(data)
        self.journal_path.unlink(missing_ok=True)  # its lines are of the old generation now: stale either way
        self._journal_bytes, self._journal_torn = 0, False
        self._clear_pending()

    def _touch(self, personnel_ids: Any) -> None:
        for pid in personnel_ids:
            self._touched.add(pid)
            self._forgotten.discard(pid)

    def _clear_pending(self) -> None:
        self._touched, self._forgotten, self._journaled_since = set(), set(), self.since

    def _read_body(self, raw: dict[str, Any], where: str) -> None:
        version = raw.get("version", 1)
        if not isinstance(version, int) or version > VERSION:
            raise ValueError(f"{where}: checkpoint version {version!r} is newer than this contactvault reads")
        self.generation = _field(raw, "generation", int, 0, where)
        self.since = _field(raw, "since", (str, type(None)), None, where)
        self.created = dict(_field(raw, "created", dict, {}, where))
        self.sent = {pid: dict(values) for pid, values in _field(raw, "sent", dict, {}, where).items()}

    def _replay(self) -> None:
        journal = self.journal_path
        data = journal.read_bytes() if journal.exists() else b""
        lines = data.split(b"\n")
        complete, tail = lines[:-1], lines[-1]
        valid = 0
        for number, line in enumerate(complete, start=1):
            try:
                entry = _parse(line.decode("utf-8"), f"{journal} line {number}")
            except ValueError as exc:
                if number == len(complete) and not tail:  # the last line, torn by a crash: never acknowledged
                    break
                raise ValueError(f"{exc}; only a last line can be torn by a crash: the file was altered") from None
            if entry.get("generation", 0) > self.generation:
                raise ValueError(f"{journal} line {number}: of a newer checkpoint than {self.path.name}")
            if entry.get("generation", 0) == self.generation:  # older ones were folded in before a crash
                self._apply_entry(entry, f"{journal} line {number}")
            valid += len(line) + 1
        self._journal_bytes, self._journal_torn = valid, valid != len(data)

    def _apply_entry(self, entry: dict[str, Any], where: str) -> None:
        if not isinstance(entry.get("version"), int) or entry["version"] > VERSION:
            raise ValueError(f"{where}: journal version {entry.get('version')!r} is not one this contactvault reads")
        for pid in _field(entry, "forgotten", list, [], where):
            self.created.pop(pid, None)
            self.sent.pop(pid, None)
        self.created.update(_field(entry, "created", dict, {}, where))
        self.sent.update(_field(entry, "sent", dict, {}, where))
        self.since = _field(entry, "since", (str, type(None)), None, where)

    def _append(self, line: bytes, *, durable: bool) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        journal = self.journal_path
        is_new = not journal.exists()
        fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            if self._journal_torn:  # cut off the torn line of a crashed run before extending the journal
                os.ftruncate(fd, self._journal_bytes or 0)
                self._journal_torn = False
            _write_all(fd, line)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if is_new:
            _fsync_dir(journal.parent)
        self._journal_bytes = (self._journal_bytes or 0) + len(line)


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: not a JSON object")
    return raw


def _field(raw: dict[str, Any], name: str, kind: Any, default: Any, where: str) -> Any:
    value = raw.get(name, default)
    if not isinstance(value, kind):
        raise ValueError(f"{where}: {name!r} has the wrong type ({type(value).__name__})")
    return value


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_durably(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data``: a new file of mode 0600, fsync'd, renamed over it, the folder fsync'd."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", suffix=".tmp", dir=target.parent)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
