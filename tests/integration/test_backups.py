"""``admin backup`` and ``admin restore``: an online SQLite copy taken while unlocks are submitted and delivered
restores to a database that reconciles and holds what the manifest says; restores check integrity and keys, and
never overwrite a database unasked; on PostgreSQL the command prints the pg_dump procedure instead."""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from contactvault.cli.main import app as cli
from contactvault.server.bootstrap import KeyMismatch, build_runtime
from contactvault.server.config import Settings
from contactvault.server.crypto import KeyMaterial
from contactvault.server.db import backup_files
from contactvault.server.db.tables import ledger_entries, tasks
from contactvault.server.runtime import Runtime
from contactvault.server.services import backups
from tests import pg
from tests.e2e.processes import wait_until
from tests.engine import assert_reconciles, count, drain, submit, worker
from tests.factories import make_account, make_directory

DEADLINE_SECONDS = 30.0


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Runtime]:
    """An embedded (SQLite) service's runtime with the test directory, an account and a few settled unlocks."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/live.db", encryption_key_file=tmp_path / "keys.json", worker_max_attempts=3
    )
    rt = build_runtime(settings)
    make_directory(rt)
    account = make_account(rt)
    submit(rt, account, [1, 2, 3])
    drain(rt)
    yield rt
    rt.db.dispose()


def _env(key_file: Path) -> dict[str, str]:
    return {"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(key_file)}


def _key_file(rt: Runtime) -> Path:
    assert rt.settings.encryption_key_file is not None
    return rt.settings.encryption_key_file


def _invoke(env: dict[str, str], *args: str) -> Any:
    return CliRunner(env=env).invoke(cli, list(args))


def _counts(path: Path) -> tuple[int, int]:
    with closing(sqlite3.connect(path)) as conn:
        return (
            int(conn.execute("SELECT count(*) FROM tasks").fetchone()[0]),
            int(conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]),
        )


class Load:
    """A thread submitting unlocks (three new people a task, for as long as it runs) while a worker thread delivers
    them."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.account = make_account(rt, name="load")
        self.submitted = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._worker = worker(rt, name="load-worker")
        self._threads = [threading.Thread(target=self._submit), threading.Thread(target=self._work)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._worker.stop()
        for t in self._threads:
            t.join(DEADLINE_SECONDS)
        assert self.errors == []

    def wait_for_more(self, than: int) -> None:
        """Poll (with a deadline) until more tasks than ``than`` were submitted."""
        # the load to submit another task
        wait_until(lambda: self.submitted > than or bool(self.errors), DEADLINE_SECONDS, interval=0.01)

    def _submit(self) -> None:
        person = 4
        try:
            while not self._stop.is_set():
                if person + 3 > 300:  # this account has unlocked everyone: go on with a new one
                    self.account = make_account(self.rt, name=f"load-{self.submitted}")
                    person = 4
                submit(self.rt, self.account, [person, person + 1, person + 2])
                person += 3
                self.submitted += 1
        except BaseException as exc:  # reported by __exit__
            self.errors.append(exc)

    def _work(self) -> None:
        try:
            self._worker.run()
        except BaseException as exc:
            self.errors.append(exc)


def test_a_backup_under_write_load_restores_to_a_reconciled_database_matching_its_manifest(
    live: Runtime, tmp_path: Path
) -> None:
    backup = tmp_path / "backups" / "live.backup"
    with Load(live) as load:
        load.wait_for_more(than=2)
        tasks_before = count(live, tasks)
        steps = 0

        def writes_between_steps(remaining: int, total: int) -> None:
            # The first steps each wait for a task submitted meanwhile: the copy meets concurrent writes for sure.
            nonlocal steps
            steps += 1
            if steps <= 3:
                load.wait_for_more(than=load.submitted)

        manifest = backups.back_up(
            live.settings,
            KeyMaterial.load(_key_file(live)),
            backup,
            datetime.now(UTC),
            step_pages=4,
            on_step=writes_between_steps,
        )
        after_backup = load.submitted
        load.wait_for_more(than=after_backup)
    assert steps >= 3
    tasks_after, entries_after = count(live, tasks), count(live, ledger_entries)
    assert tasks_before < manifest.tasks < tasks_after  # a moment in the middle of the load
    assert manifest.ledger_entries < entries_after

    restored = tmp_path / "restored" / "contactvault.db"
    env = _env(_key_file(live))
    result = _invoke(env, "admin", "restore", "--from", str(backup), "--db", f"sqlite:///{restored}")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["keysVerified"] is True
    assert body["manifestChecked"] is True
    assert _counts(restored) == (manifest.tasks, manifest.ledger_entries)

    reconciled = _invoke(env, "admin", "reconcile", "--db", f"sqlite:///{restored}")
    assert reconciled.exit_code == 0, reconciled.output
    assert json.loads(reconciled.stdout)["ok"] is True
    checked = _invoke(env, "admin", "keys", "check", "--db", f"sqlite:///{restored}")
    assert checked.exit_code == 0, checked.output


def test_a_stepped_copy_that_keeps_restarting_under_writes_still_finishes(tmp_path: Path) -> None:
    source, copy = tmp_path / "busy.db", tmp_path / "copy.db"
    with closing(sqlite3.connect(source, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, pad TEXT)")
        conn.executemany("INSERT INTO t (pad) VALUES (?)", [("x" * 500,) for _ in range(200)])
        written = 200

        def write(remaining: int, total: int) -> None:
            nonlocal written
            conn.execute("INSERT INTO t (pad) VALUES (?)", ("y" * 500,))  # restarts the copy at its next step
            written += 1

        fell_back = backup_files.copy_online(source, copy, step_pages=2, on_step=write)
    assert fell_back
    assert backup_files.integrity_problem(copy) is None
    with closing(sqlite3.connect(copy)) as done:
        rows = int(done.execute("SELECT count(*) FROM t").fetchone()[0])
        assert done.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert 200 < rows <= written


def test_the_cli_writes_a_backup_and_a_manifest_that_never_holds_a_key(live: Runtime, tmp_path: Path) -> None:
    backup = tmp_path / "nightly.db"
    result = _invoke(_env(_key_file(live)), "admin", "backup", "--to", str(backup), "--db", live.settings.database_url)
    assert result.exit_code == 0, result.output
    manifest_file = backups.manifest_path(backup)
    manifest = json.loads(manifest_file.read_text())
    assert manifest["database"] == "sqlite"
    assert manifest["schemaRevision"] is not None
    assert (manifest["tasks"], manifest["ledgerEntries"]) == _counts(backup)
    assert manifest["keyCanary"] is True
    keys = KeyMaterial.load(_key_file(live))
    assert manifest["keys"] == keys.fingerprints()
    for secret in (*keys.fernet_keys, keys.hash_key):
        assert secret not in manifest_file.read_text()
        assert secret not in result.output
    assert backup.stat().st_mode & 0o077 == 0
    again = _invoke(_env(_key_file(live)), "admin", "backup", "--to", str(backup), "--db", live.settings.database_url)
    assert again.exit_code == 2
    assert "already exists" in again.stderr


def test_a_backup_without_its_keys_is_refused_and_creates_none(live: Runtime, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-keys.json"
    backup = tmp_path / "b.db"
    result = _invoke(_env(missing), "admin", "backup", "--to", str(backup), "--db", live.settings.database_url)
    assert result.exit_code == 1
    assert "CONTACTVAULT_ENCRYPTION_KEY_FILE" in result.stderr
    assert not missing.exists()
    assert not backup.exists()


def _backup_of(rt: Runtime, tmp_path: Path) -> Path:
    backup = tmp_path / "taken.db"
    backups.back_up(rt.settings, KeyMaterial.load(_key_file(rt)), backup, datetime.now(UTC))
    return backup


@pytest.mark.parametrize("which", ["encryption", "hash"])
def test_a_restore_with_keys_that_do_not_match_is_refused(live: Runtime, tmp_path: Path, which: str) -> None:
    backup = _backup_of(live, tmp_path)
    keys = KeyMaterial.load(_key_file(live))
    other = KeyMaterial.generate()
    wrong = tmp_path / "wrong-keys.json"
    (KeyMaterial(other.fernet_keys, keys.hash_key) if which == "encryption" else other).dump(wrong)
    target = tmp_path / "restored.db"
    result = _invoke(_env(wrong), "admin", "restore", "--from", str(backup), "--db", f"sqlite:///{target}")
    assert result.exit_code == 1
    assert "CONTACTVAULT_ENCRYPTION_KEY_FILE" in result.stderr
    assert "nothing was changed" in result.stderr
    assert "Traceback" not in result.stderr
    for secret in (*keys.fernet_keys, keys.hash_key, *other.fernet_keys, other.hash_key):
        assert secret not in result.output
    assert not target.exists()


def test_a_restore_never_replaces_a_database_without_force(live: Runtime, tmp_path: Path) -> None:
    backup = _backup_of(live, tmp_path)
    manifest = json.loads(backups.manifest_path(backup).read_text())
    submit(live, make_account(live, name="later"), [20, 21])  # the live database moves on after the backup
    live.db.dispose()
    target = Path(str(backups.sqlite_file(live.settings)))
    before = _counts(target)
    env = _env(_key_file(live))
    refused = _invoke(env, "admin", "restore", "--from", str(backup), "--db", live.settings.database_url)
    assert refused.exit_code == 1
    assert "--force" in refused.stderr
    assert _counts(target) == before
    forced = _invoke(env, "admin", "restore", "--from", str(backup), "--db", live.settings.database_url, "--force")
    assert forced.exit_code == 0, forced.output
    assert _counts(target) == (manifest["tasks"], manifest["ledgerEntries"]) != before
    assert backup_files.integrity_problem(target) is None
    reconciled = _invoke(env, "admin", "reconcile", "--db", live.settings.database_url)
    assert reconciled.exit_code == 0, reconciled.output


def test_a_damaged_backup_is_refused(live: Runtime, tmp_path: Path) -> None:
    backup = _backup_of(live, tmp_path)
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0xFF
    backup.write_bytes(bytes(data))
    target = tmp_path / "restored.db"
    env = _env(_key_file(live))
    result = _invoke(env, "admin", "restore", "--from", str(backup), "--db", f"sqlite:///{target}")
    assert result.exit_code == 1
    assert "nothing was changed" in result.stderr
    assert not target.exists()
    garbage = tmp_path / "not-a-database.db"
    garbage.write_bytes(b"this is not SQLite" * 100)
    result = _invoke(env, "admin", "restore", "--from", str(garbage), "--db", f"sqlite:///{target}")
    assert result.exit_code == 1
    assert "not a readable SQLite database" in result.stderr
    assert not target.exists()


@pytest.mark.postgresql
def test_on_postgresql_backup_prints_the_procedure_and_copies_nothing(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=postgres_url, encryption_key_file=tmp_path / "keys.json")
    build_runtime(settings).db.dispose()
    target = tmp_path / "pg.dump"
    result = _invoke(
        _env(_key_file_of(settings)), "admin", "backup", "--to", str(target), "--db", settings.database_url
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["backedUp"] is False
    assert "pg_dump --format=custom" in body["backup"]
    assert "pg_restore" in body["restore"]
    assert "+psycopg" not in body["backup"]
    assert str(_key_file_of(settings)) in body["keysToBackUp"]
    keys = KeyMaterial.load(_key_file_of(settings))
    assert body["keyFingerprints"] == keys.fingerprints()
    for secret in (*keys.fernet_keys, keys.hash_key):
        assert secret not in result.output
    assert not target.exists()
    refused = _invoke(
        _env(_key_file_of(settings)), "admin", "restore", "--from", str(target), "--db", settings.database_url
    )
    assert refused.exit_code == 2
    assert "pg_restore" in refused.stderr


def _key_file_of(settings: Settings) -> Path:
    assert settings.encryption_key_file is not None
    return settings.encryption_key_file


@pytest.mark.postgresql
def test_on_postgresql_the_printed_procedure_restores_a_dump_taken_under_load(
    services: pg.SessionServices, postgres_url: str, tmp_path: Path
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("needs pg_dump and pg_restore")
    key_file = tmp_path / "keys.json"
    rt = build_runtime(Settings(database_url=postgres_url, encryption_key_file=key_file, worker_max_attempts=3))
    try:
        make_directory(rt)
        dump = tmp_path / "cv.dump"
        taken = json.loads(_invoke(_env(key_file), "admin", "backup", "--to", str(dump), "--db", postgres_url).stdout)
        with Load(rt) as load:
            load.wait_for_more(than=2)
            tasks_before = count(rt, tasks)
            subprocess.run([*shlex.split(taken["backup"].replace("FILE", str(dump)))], check=True, timeout=120)
            load.wait_for_more(than=load.submitted)
        tasks_after = count(rt, tasks)
    finally:
        rt.db.dispose()
    with services.fresh_database(migrated=False) as empty:
        target = json.loads(_invoke(_env(key_file), "admin", "backup", "--to", str(dump), "--db", empty).stdout)
        subprocess.run([*shlex.split(target["restore"].replace("FILE", str(dump)))], check=True, timeout=120)
        restored = Settings(database_url=empty, encryption_key_file=key_file)
        check = build_runtime(restored)
        try:
            assert_reconciles(check)  # what `admin reconcile` runs
            assert tasks_before <= count(check, tasks) < tasks_after
        finally:
            check.db.dispose()
        wrong = tmp_path / "wrong.json"
        KeyMaterial(KeyMaterial.generate().fernet_keys, KeyMaterial.load(key_file).hash_key).dump(wrong)
        with pytest.raises(KeyMismatch, match="CONTACTVAULT_ENCRYPTION_KEY_FILE"):
            build_runtime(restored.model_copy(update={"encryption_key_file": wrong}))
