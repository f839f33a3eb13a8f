"""``contactvault admin backup`` and ``admin restore``: an embedded (SQLite) database copied online with a manifest,
and put back after its integrity and its keys are checked. On PostgreSQL, ``backup`` prints what ``pg_dump`` and
``pg_restore`` need instead (docs/operations.md, "Backups and restore")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from contactvault.cli.admin.common import DbOption, database_url, domain_errors
from contactvault.cli.common import EXIT_FAILED, EXIT_USAGE, emit, fail

if TYPE_CHECKING:
    from contactvault.server.config import Settings
    from contactvault.server.crypto import KeyMaterial


def register(app: typer.Typer) -> None:
    """Add ``backup`` and ``restore`` to the ``admin`` app."""
    app.command("backup")(backup)
    app.command("restore")(restore)


def backup(
    to: Annotated[Path, typer.Option("--to", help="The backup file to write (must not exist).")],
    db: DbOption = None,
) -> None:
    """Back up the database while the service runs: a SQLite copy and FILE.manifest.json beside it; on PostgreSQL,
    print the pg_dump procedure and the keys to keep with the dump (nothing is copied)."""
    from contactvault.server.config import Settings
    from contactvault.server.key_checks import KeyMismatch
    from contactvault.server.services import backups

    settings = Settings(database_url=database_url(db))
    if backups.sqlite_file(settings) is None:
        emit(backups.postgresql_guidance(settings, _optional_keys(settings)))
        return
    keys = _required_keys(settings)
    with domain_errors():
        try:
            manifest = backups.back_up(settings, keys, to, datetime.now(UTC))
        except KeyMismatch as exc:
            fail(str(exc), EXIT_FAILED)
    emit({"backup": str(to), "manifest": str(backups.manifest_path(to)), **manifest.to_json()})


def restore(
    source: Annotated[Path, typer.Option("--from", help="A backup file written by `admin backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing database (stop the service first).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Restore a SQLite backup: checks its integrity (and its manifest's SHA-256) and that the configured keys open
    it; refuses to replace an existing database without --force. Nothing is changed when a check fails."""
    from contactvault.server.config import Settings
    from contactvault.server.key_checks import KeyMismatch
    from contactvault.server.services import backups

    settings = Settings(database_url=database_url(db))
    if backups.sqlite_file(settings) is None:
        fail(
            "--db: on PostgreSQL restore with pg_restore (`contactvault admin backup` prints the commands)", EXIT_USAGE
        )
    keys = _required_keys(settings)
    with domain_errors():
        try:
            report = backups.restore(settings, keys, source, force=force)
        except KeyMismatch as exc:
            fail(str(exc), EXIT_FAILED)
    emit(
        {
            "restored": str(report.target),
            "from": str(source),
            "schemaRevision": report.schema_revision,
            "tasks": report.tasks,
            "ledgerEntries": report.ledger_entries,
            "keysVerified": report.keys_verified,
            "manifestChecked": report.manifest_checked,
            "next": "start the service: it migrates the schema if the backup is older than this release",
        }
    )


def _optional_keys(settings: Settings) -> KeyMaterial | None:
    """The configured keys if they can be read (never created here)."""
    from contactvault.server.bootstrap import load_keys

    try:
        return load_keys(settings, create=False)
    except (OSError, ValueError, KeyError):
        return None


def _required_keys(settings: Settings) -> KeyMaterial:
    """The configured keys, never created here (a backup or restore without its keys is worthless), or exit 1."""
    from contactvault.server.bootstrap import load_keys

    try:
        return load_keys(settings, create=False)
    except FileNotFoundError as exc:
        fail(f"{exc} (CONTACTVAULT_ENCRYPTION_KEY_FILE): the keys go with the data; put them in place first")
    except (OSError, ValueError, KeyError) as exc:
        fail(
            f"the configured keys cannot be read ({type(exc).__name__}); check CONTACTVAULT_ENCRYPTION_KEY_FILE "
            "or CONTACTVAULT_ENCRYPTION_KEYS/CONTACTVAULT_HASH_KEY"
        )
