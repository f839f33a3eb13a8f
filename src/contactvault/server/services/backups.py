"""Backups and restore of an embedded (SQLite) database, and what a PostgreSQL operator must do instead.

A backup is one SQLite file, copied online (``db/backup_files.py``), and a manifest beside it
(``FILE.manifest.json``): the schema revision, the moment, the counts of tasks and ledger entries *in the copy*
(so they are the counts at the moment of the snapshot, whatever was written meanwhile), its SHA-256, and
fingerprints of the keys it goes with, never the keys. The keys are not in the backup: without the same key file
(or variables) the sealed emails and phones cannot be read, so a restore checks them first and refuses.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from contactvault.server.config import Settings
from contactvault.server.crypto import Cipher, KeyMaterial, write_private_file
from contactvault.server.db import backup_files, key_canary
from contactvault.server.domain.errors import InvalidRequest, StateConflict
from contactvault.server.key_checks import KeyMismatch, KeyProblem, describe, key_source, keys_problem

MANIFEST_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Manifest:
    """What ``FILE.manifest.json`` says about a backup (camelCase on disk)."""

    format: int
    created_at: str
    database: str
    schema_revision: str | None
    tasks: int
    ledger_entries: int
    key_canary: bool
    keys: dict[str, object]
    sha256: str
    bytes: int

    def to_json(self) -> dict[str, Any]:
        """The manifest as written."""
        return {_camel(k): v for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """What ``restore`` put in place."""

    target: Path
    schema_revision: str | None
    tasks: int
    ledger_entries: int
    keys_verified: bool
    manifest_checked: bool


def manifest_path(backup: Path) -> Path:
    """Where the manifest of ``backup`` lives: beside it."""
    return backup.with_name(backup.name + ".manifest.json")


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file of these settings; None on PostgreSQL."""
    return backup_files.sqlite_path(settings.database_url)


def back_up(
    settings: Settings,
    keys: KeyMaterial,
    target: Path,
    now: datetime,
    *,
    step_pages: int = backup_files.STEP_PAGES,
    on_step: Callable[[int, int], None] | None = None,
) -> Manifest:
    """Copy the SQLite database online into ``target`` (which must not exist) and write its manifest."""
    source = sqlite_file(settings)
    if source is None or not source.is_file():
        raise InvalidRequest("--db: backups are taken of an existing SQLite file (PostgreSQL: pg_dump)")
    if target.exists() or manifest_path(target).exists():
        raise InvalidRequest(f"--to: {target} (or its manifest) already exists; choose a new name")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        partial.touch(mode=0o600)  # sealed values only, but still nobody else's business
        backup_files.copy_online(source, partial, step_pages=step_pages, on_step=on_step)
        problem = backup_files.integrity_problem(partial)
        if problem is not None:
            raise StateConflict(f"the copy failed its integrity check: {problem}")
        facts = backup_files.snapshot_facts(partial)
        with backup_files.reading(partial) as conn:
            mismatch = keys_problem(conn, Cipher(keys))
            has_canary = key_canary.has_key_tables(conn)[1] and key_canary.canary(conn) is not None
        if mismatch is not None:
            raise KeyMismatch(describe(mismatch, settings) + " A backup must go with the keys that open it.")
        digest, size = _sha256(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    manifest = Manifest(
        MANIFEST_FORMAT,
        now.isoformat().replace("+00:00", "Z"),
        "sqlite",
        facts.schema_revision,
        facts.tasks,
        facts.ledger_entries,
        has_canary,
        keys.fingerprints(),
        digest,
        size,
    )
    write_private_file(manifest_path(target), json.dumps(manifest.to_json(), indent=2) + "\n")
    return manifest


def restore(settings: Settings, keys: KeyMaterial, backup: Path, *, force: bool) -> RestoreReport:
    """Put the backup in place of the SQLite database of ``settings``, after checking it and the keys."""
    target = sqlite_file(settings)
    if target is None:
        raise InvalidRequest("--db: restore writes a SQLite file (PostgreSQL: pg_restore, docs/operations.md)")
    if not backup.is_file():
        raise InvalidRequest(f"--from: no backup file at {backup}")
    problem = backup_files.integrity_problem(backup)
    if problem is not None:
        raise StateConflict(f"the backup {backup} is damaged: {problem}; nothing was changed")
    try:
        backup_files.snapshot_facts(backup)
    except ValueError as exc:
        raise StateConflict(f"the backup {backup} is {exc}; nothing was changed") from None
    manifest_checked = _check_manifest(backup)
    cipher = Cipher(keys)
    with backup_files.reading(backup) as conn:
        mismatch = keys_problem(conn, cipher)
        verified = key_canary.has_key_tables(conn)[1] and key_canary.canary(conn) is not None
    if mismatch is not None:
        raise KeyMismatch(
            describe(mismatch, settings) + " Put the key file (or variables) backed up with this data in place "
            "first; nothing was changed."
        )
    if target.exists() and target.stat().st_size > 0 and not force:
        raise StateConflict(f"{target} already holds a database; stop the service and add --force to replace it")
    backup_files.restore_into(backup, target)
    problem = backup_files.integrity_problem(target)
    if problem is not None:  # pragma: no cover - SQLite wrote what passed the same check a moment ago
        raise StateConflict(f"the restored database failed its integrity check: {problem}")
    facts = backup_files.snapshot_facts(target)
    return RestoreReport(target, facts.schema_revision, facts.tasks, facts.ledger_entries, verified, manifest_checked)


def _check_manifest(backup: Path) -> bool:
    path = manifest_path(backup)
    if not path.is_file():
        return False
    try:
        expected = str(json.loads(path.read_text())["sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StateConflict(
            f"the manifest {path} is not readable ({type(exc).__name__}); nothing was changed"
        ) from None
    if _sha256(backup)[0] != expected:
        raise StateConflict(
            f"the backup {backup} is not the file its manifest describes (SHA-256); nothing was changed"
        )
    return True


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def postgresql_guidance(settings: Settings, keys: KeyMaterial | None) -> dict[str, object]:
    """What an operator runs to back up and restore a PostgreSQL database, and which keys go with the dump."""
    url = backup_files.libpq_url(settings.database_url)
    return {
        "database": "postgresql",
        "backedUp": False,
        "backup": f"pg_dump --format=custom --file FILE '{url}'",
        "restore": f"pg_restore --no-owner --exit-on-error --dbname '{url}' FILE",
        "restoreNote": "restore into an empty database (createdb, or pg_restore --clean --if-exists over an old "
        "one), with the service stopped; then start one node: it refuses keys that do not match the data",
        "password": "from PGPASSWORD or ~/.pgpass, never on the command line",
        "keysToBackUp": key_source(settings, KeyProblem.HASH_KEY),
        "keyFingerprints": None if keys is None else keys.fingerprints(),
        "keysNote": "the dump holds emails and phones sealed under these keys: without the same keys a restored "
        "database cannot be read. Keep them with the dump, stored apart from it (another vault or medium).",
    }
