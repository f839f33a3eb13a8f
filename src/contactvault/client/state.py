"""The local state file of the unlock workflow (stdlib sqlite3).

It is what makes a run resumable without ever creating a task twice: a run's batches, each with its
Idempotency-Key, are written *before* anything is submitted, and each task id right after the server answers.
On resume a batch with a key but no task id is re-submitted with the same key (the server replays its first
answer), and a batch with a task id is only waited for. It also keeps every delivered contact for export.

The file holds addresses, so it is created with mode 0600 in a 0700 directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ._errors import StateError
from ._models import Channel, UnlockTask, Verification
from ._results import (
    DeliveredContact,
    FailedContact,
    Reconciliation,
    SkippedContact,
    UnlockResult,
    failure_group,
)
from .state_schema import SCHEMA_VERSION, migrate

__all__ = ["SCHEMA_VERSION", "BatchRecord", "PersonRecord", "RunRecord", "StateStore"]

# Batch statuses after which a batch needs nothing more: its task finished, no task was needed, or the
# server refused it (402) and the run moved on.
DONE_BATCH_STATUSES = frozenset({"completed", "no_task", "rejected", "capped"})


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One unlock run as stored."""

    run_id: str
    event_id: str
    channel: Channel
    base_url: str
    status: str
    max_credits: int | None
    balance_before: int | None
    balance_after: int | None
    requested_count: int
    created_at: str
    finished_at: str | None

    @property
    def is_finished(self) -> bool:
        """True once every batch is done and the final balance was read."""
        return self.status != "running"


@dataclasses.dataclass(frozen=True)
class BatchRecord:
    """One submission of at most 100 people, with the key it is (or will be) sent under."""

    run_id: str
    seq: int
    personnel_ids: tuple[str, ...]
    idempotency_key: str
    prepared: bool
    max_credits: int | None
    task_id: str | None
    status: str
    credits_charged: int | None

    @property
    def is_done(self) -> bool:
        """True when the batch needs no more submitting or waiting."""
        return self.status in DONE_BATCH_STATUSES


@dataclasses.dataclass(frozen=True)
class PersonRecord:
    """Who a personnel id is, kept so that exports carry names after a resume."""

    personnel_id: str
    full_name: str | None = None
    title: str | None = None
    company_name: str | None = None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StateStore:
    """Runs, batches, outcomes and delivered contacts in one SQLite file."""

    def __init__(self, path: str | os.PathLike[str], *, now: Callable[[], dt.datetime] = _utc_now) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self._now = now
        try:
            if self.path is not None:
                _create_private(self.path)
            self._conn = sqlite3.connect(self.path or ":memory:", isolation_level=None)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StateError(f"cannot open state file {path}: {exc}") from None
        try:
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StateError(f"cannot use state file {path}: {exc}") from None
        except StateError:
            self._conn.close()
            raise

    def _migrate(self) -> None:
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._conn.execute("PRAGMA foreign_keys = ON")
        migrate(self._conn, self.path)  # state_schema.py: outside _tx (executescript commits on its own)

    def __repr__(self) -> str:
        return f"<StateStore path={str(self.path or ':memory:')!r}>"

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so two processes on one file serialise cleanly.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _stamp(self) -> str:
        return self._now().astimezone(dt.UTC).isoformat()

    # -- reading (what the CLI needs) -------------------------------------------------------------------

    def list_runs(self, *, limit: int | None = None) -> list[RunRecord]:
        """Every run, newest first."""
        sql = "SELECT * FROM runs ORDER BY created_at DESC, rowid DESC"
        rows = self._conn.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
        return [_run(row) for row in rows]

    def unfinished_runs(self, *, base_url: str | None = None) -> list[RunRecord]:
        """Runs that were interrupted before the end, oldest first (optionally for one server)."""
        rows = self._conn.execute("SELECT * FROM runs WHERE status = 'running' ORDER BY created_at, rowid").fetchall()
        runs = [_run(row) for row in rows]
        return [r for r in runs if base_url is None or r.base_url == base_url.rstrip("/")]

    def get_run(self, run_id: str) -> RunRecord:
        """One run; StateError when the file has no such run."""
        row = self._conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise StateError(f"no run {run_id} in {self.path or ':memory:'}")
        return _run(row)

    def batches(self, run_id: str) -> list[BatchRecord]:
        """A run's batches in submission order."""
        rows = self._conn.execute("SELECT * FROM batches WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        return [_batch(row) for row in rows]

    def person(self, run_id: str, personnel_id: str) -> PersonRecord:
        """Who a personnel id of a run is (only the id when the lookup found nothing)."""
        row = self._conn.execute(
            "SELECT * FROM people WHERE run_id = ? AND personnel_id = ?", (run_id, personnel_id)
        ).fetchone()
        if row is None:
            return PersonRecord(personnel_id)
        return PersonRecord(personnel_id, row["full_name"], row["title"], row["company_name"])

    def delivered_contacts(
        self, *, event_id: str | None = None, channel: Channel | None = None, run_id: str | None = None
    ) -> list[DeliveredContact]:
        """Every unlocked address kept in the file, for export, optionally filtered."""
        clauses, args = [], []
        for column, value in (("event_id", event_id), ("channel", channel), ("run_id", run_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._conn.execute(
            f"SELECT * FROM contacts{where} ORDER BY unlocked_at, personnel_id",  # noqa: S608 - fixed columns
            args,
        ).fetchall()
        return [_contact(row) for row in rows]

    def run_result(self, run_id: str) -> UnlockResult:
        """Rebuild a run's UnlockResult from the file (the same for a fresh and a resumed run)."""
        run = self.get_run(run_id)
        rows = self._conn.execute("SELECT * FROM outcomes WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall()
        failed: dict[str, list[FailedContact]] = {}
        skipped: list[SkippedContact] = []
        for row in rows:
            if row["outcome"] == "failed":
                code = row["code"] or "OTHER"
                failed.setdefault(failure_group(code), []).append(
                    FailedContact(row["personnel_id"], code, row["task_id"])
                )
            elif row["outcome"] == "skipped":
                skipped.append(SkippedContact(row["personnel_id"], row["code"] or "skipped"))
        delivered_ids = {r["personnel_id"] for r in rows if r["outcome"] == "delivered"}
        delivered = [c for c in self.delivered_contacts(run_id=run_id) if c.personnel_id in delivered_ids]
        batches = self.batches(run_id)
        reconciliation = None
        if run.balance_before is not None and run.balance_after is not None:
            charged = sum(b.credits_charged or 0 for b in batches)
            reconciliation = Reconciliation(run.balance_before, run.balance_after, charged)
        return UnlockResult(
            event_id=run.event_id,
            channel=run.channel,
            status=run.status,
            run_id=run.run_id,
            delivered=tuple(delivered),
            failed={group: tuple(items) for group, items in failed.items()},
            skipped=tuple(skipped),
            reconciliation=reconciliation,
            task_ids=tuple(b.task_id for b in batches if b.task_id),
        )

    # -- writing (what the workflow does) ---------------------------------------------------------------

    def create_run(
        self,
        *,
        run_id: str,
        event_id: str,
        channel: Channel,
        base_url: str,
        max_credits: int | None,
        balance_before: int,
        requested_count: int,
        people: Iterable[PersonRecord],
        skipped: Iterable[SkippedContact],
        batches: Sequence[tuple[Sequence[str], str]],
    ) -> RunRecord:
        """Write a run, its people, its skips and every planned batch with its key, in one transaction."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs (run_id, event_id, channel, base_url, status, max_credits, balance_before,"
                " requested_count, created_at) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                (
                    run_id,
                    event_id,
                    channel,
                    base_url.rstrip("/"),
                    max_credits,
                    balance_before,
                    requested_count,
                    self._stamp(),
                ),
            )
            db.executemany(
                "INSERT INTO people VALUES (?, ?, ?, ?, ?)",
                [(run_id, p.personnel_id, p.full_name, p.title, p.company_name) for p in people],
            )
            db.executemany(
                "INSERT OR REPLACE INTO outcomes VALUES (?, ?, 'skipped', ?, NULL)",
                [(run_id, s.personnel_id, s.reason) for s in skipped],
            )
            db.executemany(
                "INSERT INTO batches (run_id, seq, personnel_ids, idempotency_key, status)"
                " VALUES (?, ?, ?, ?, 'planned')",
                [(run_id, seq, json.dumps(list(ids)), key) for seq, (ids, key) in enumerate(batches)],
            )
        return self.get_run(run_id)

    def prepare_batch(self, run_id: str, seq: int, *, max_credits: int | None) -> BatchRecord:
        """Freeze a batch's body (its credit cap) before its first submission; later calls keep the first."""
        with self._tx() as db:
            db.execute(
                "UPDATE batches SET prepared = 1, max_credits = ?, submitted_at = ?"
                " WHERE run_id = ? AND seq = ? AND prepared = 0",
                (max_credits, self._stamp(), run_id, seq),
            )
        return self._get_batch(run_id, seq)

    def record_task_id(self, run_id: str, seq: int, task_id: str) -> None:
        """Remember the task a batch created, right after the server answered."""
        with self._tx() as db:
            db.execute(
                "UPDATE batches SET task_id = ?, status = 'submitted' WHERE run_id = ? AND seq = ?",
                (task_id, run_id, seq),
            )

    def record_skipped(self, run_id: str, skipped: Iterable[SkippedContact]) -> None:
        """Record people the server declined to charge (a later outcome for the same id wins)."""
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO outcomes VALUES (?, ?, 'skipped', ?, NULL)",
                [(run_id, s.personnel_id, s.reason) for s in skipped],
            )

    def close_batch(
        self,
        run_id: str,
        seq: int,
        *,
        status: str,
        credits_charged: int = 0,
        failed_code: str | None = None,
        skip_reason: str | None = None,
    ) -> None:
        """End a batch that produced no task, marking its people failed or skipped when a reason is given."""
        ids = self._get_batch(run_id, seq).personnel_ids
        with self._tx() as db:
            if failed_code is not None:
                db.executemany(
                    "INSERT OR REPLACE INTO outcomes VALUES (?, ?, 'failed', ?, NULL)",
                    [(run_id, pid, failed_code) for pid in ids],
                )
            if skip_reason is not None:
                db.executemany(
                    "INSERT OR REPLACE INTO outcomes VALUES (?, ?, 'skipped', ?, NULL)",
                    [(run_id, pid, skip_reason) for pid in ids],
                )
            db.execute(
                "UPDATE batches SET status = ?, credits_charged = ?, completed_at = ? WHERE run_id = ? AND seq = ?",
                (status, credits_charged, self._stamp(), run_id, seq),
            )

    def record_task_result(self, run_id: str, seq: int, task: UnlockTask, *, credits_charged: int) -> None:
        """Store a terminal task's items (delivered, failed) and close its batch, in one transaction."""
        run = self.get_run(run_id)
        with self._tx() as db:
            for item in task.items:
                if item.is_delivered:
                    person = self.person(run_id, item.personnel_id)
                    verification = item.verification.model_dump_json() if item.verification else None
                    db.execute(
                        "INSERT OR REPLACE INTO contacts (personnel_id, channel, event_id, value, full_name, title,"
                        " company_name, verification, unlocked_at, run_id, task_id, source)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            item.personnel_id,
                            run.channel,
                            run.event_id,
                            item.address,
                            person.full_name,
                            person.title,
                            person.company_name,
                            verification,
                            _stamp_of(item.completed_at) or self._stamp(),
                            run_id,
                            task.task_id,
                            item.source,
                        ),
                    )
                    outcome, code = "delivered", None
                elif item.status == "unlocked":
                    # Unlocked but no address: not delivered, whatever the status says.
                    outcome, code = "failed", "NO_ADDRESS"
                else:
                    outcome, code = (
                        "failed",
                        item.error_code or ("TASK_FAILED" if item.status == "failed" else "OTHER"),
                    )
                db.execute(
                    "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?)",
                    (run_id, item.personnel_id, outcome, code, task.task_id),
                )
            db.execute(
                "UPDATE batches SET status = 'completed', credits_charged = ?, completed_at = ?"
                " WHERE run_id = ? AND seq = ?",
                (credits_charged, self._stamp(), run_id, seq),
            )

    def forget_contacts(self, base_url: str, people: Iterable[tuple[str, Channel | None]]) -> int:
        """Delete what runs against ``base_url`` kept of these people; returns how many contacts went.

        ``(personnel_id, None)`` means the whole person (every channel, and the name and title kept for the run);
        ``(personnel_id, channel)`` only that address. Outcome rows (ids and codes, no personal data) stay, so the
        run's history still counts them.
        """
        in_runs = "run_id IN (SELECT run_id FROM runs WHERE base_url = ?)"
        server = base_url.rstrip("/")
        dropped = 0
        with self._tx() as db:
            for personnel_id, channel in people:
                dropped += db.execute(
                    f"DELETE FROM contacts WHERE personnel_id = ? AND (? IS NULL OR channel = ?) AND {in_runs}",  # noqa: S608
                    (personnel_id, channel, channel, server),
                ).rowcount
                if channel is None:
                    db.execute(
                        f"DELETE FROM people WHERE personnel_id = ? AND {in_runs}",  # noqa: S608 - fixed text
                        (personnel_id, server),
                    )
        return dropped

    def finish_run(self, run_id: str, *, balance_after: int, status: str = "completed") -> None:
        """Mark a run finished with the balance read after its last task."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status = ?, balance_after = ?, finished_at = ? WHERE run_id = ?",
                (status, balance_after, self._stamp(), run_id),
            )

    def _get_batch(self, run_id: str, seq: int) -> BatchRecord:
        row = self._conn.execute("SELECT * FROM batches WHERE run_id = ? AND seq = ?", (run_id, seq)).fetchone()
        if row is None:
            raise StateError(f"no batch {seq} in run {run_id}")
        return _batch(row)


def _create_private(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Create the file ourselves so that it is 0600 from the first byte (sqlite3 would use the umask).
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        # O_CREAT keeps the mode of a file that exists already (copied, or made by hand): the file holds
        # addresses, so it is tightened (SQLite gives its -wal/-shm files the database file's mode).
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _stamp_of(value: str | int | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, int):
        # Milliseconds since the epoch, the API's convention for numeric times.
        return dt.datetime.fromtimestamp(value / 1000, dt.UTC).isoformat()
    return value


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(**{key: row[key] for key in row.keys()})  # noqa: SIM118 - Row is not a dict


def _batch(row: sqlite3.Row) -> BatchRecord:
    return BatchRecord(
        run_id=row["run_id"],
        seq=row["seq"],
        personnel_ids=tuple(json.loads(row["personnel_ids"])),
        idempotency_key=row["idempotency_key"],
        prepared=bool(row["prepared"]),
        max_credits=row["max_credits"],
        task_id=row["task_id"],
        status=row["status"],
        credits_charged=row["credits_charged"],
    )


def _contact(row: sqlite3.Row) -> DeliveredContact:
    verification: Any = row["verification"]
    return DeliveredContact(
        personnel_id=row["personnel_id"],
        channel=row["channel"],
        event_id=row["event_id"],
        value=row["value"],
        full_name=row["full_name"],
        title=row["title"],
        company_name=row["company_name"],
        verification=Verification.model_validate_json(verification) if verification else None,
        unlocked_at=row["unlocked_at"],
        run_id=row["run_id"],
        task_id=row["task_id"],
        source=row["source"],
    )
