"""``contactvault admin`` security commands: key rotation, encryption key rotation and check, erasure, retention,
audit.

Each prints JSON on stdout. Secrets are printed only where the operator must copy them (a new API key, once; a
new encryption key when keys come from the environment, since only the operator can set it there).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from contactvault.cli.admin.common import DbOption, admin_runtime, database_url, domain_errors, runtime_of
from contactvault.cli.common import EXIT_FAILED, EXIT_USAGE, emit, fail

if TYPE_CHECKING:
    from contactvault.server.config import Settings

_DURATION = re.compile(r"(\d+)\s*([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``15m``, ``24h``, ``7d`` as a timedelta (usage error otherwise)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        fail(f"not a duration (like 90s, 15m, 24h, 7d): {text!r}", EXIT_USAGE)
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def _trace_id() -> str:
    # Audit rows written by one admin command share an id, as the rows of one request do.
    return "cli-" + secrets.token_hex(6)


def _settings(db: str | None) -> Settings:
    from contactvault.server.config import Settings

    return Settings(database_url=database_url(db))


def key_rotate(
    key_id: Annotated[str, typer.Argument(help="The key id (8 hex characters).")],
    overlap: Annotated[str, typer.Option(help="How long the old key keeps working: 90s, 15m, 24h, 7d.")] = "24h",
    db: DbOption = None,
) -> None:
    """Issue a successor key for the same account; the old key expires after the overlap (new key shown once)."""
    from contactvault.server.services import accounts

    window = parse_duration(overlap)
    with admin_runtime(db) as rt, domain_errors():
        issued, expires = accounts.rotate_key(rt, key_id, window)
    emit(
        {
            "keyId": issued.key_id,
            "accountId": str(issued.account_id),
            "apiKey": issued.api_key,
            "replaces": key_id,
            "oldKeyExpiresAt": expires.isoformat().replace("+00:00", "Z"),
        }
    )


def rotate_encryption_key(
    resume: Annotated[
        bool, typer.Option("--resume", help="Only re-encrypt under the current first key (finish a stopped run).")
    ] = False,
    retire_old_keys: Annotated[
        bool, typer.Option("--retire-old-keys", help="After a complete pass, keep only the newest key.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="Rows per transaction.")] = 1000,
    db: DbOption = None,
) -> None:
    """Put a new encryption key first, then re-encrypt every stored email and phone under it, in batches.

    Safe while the service runs (it re-reads the key file when it meets the new key), idempotent and resumable.
    """
    from cryptography.fernet import Fernet

    from contactvault.server.bootstrap import default_key_file, load_keys
    from contactvault.server.crypto import KeyMaterial
    from contactvault.server.services import keys_rotation

    settings = _settings(db)
    if settings.encryption_keys:
        current = load_keys(settings)
        if not resume and not retire_old_keys:
            fresh = Fernet.generate_key().decode()
            emit(
                {
                    "keysFrom": "environment",
                    "newKey": fresh,
                    "set": {"CONTACTVAULT_ENCRYPTION_KEYS": ",".join((fresh, *current.fernet_keys))},
                    "next": "Set this on every API and worker process and restart them, then run "
                    "`contactvault admin rotate-encryption-key --resume`.",
                }
            )
            return
        path = None
    else:
        path = settings.encryption_key_file or default_key_file(settings)
        if not path.exists():
            fail(f"no key file at {path}", EXIT_FAILED)
        current = KeyMaterial.load(path) if resume or retire_old_keys else keys_rotation.add_primary_key(path)
    with runtime_of(settings) as rt:
        with domain_errors():
            report = keys_rotation.reencrypt(rt, current, batch_size=batch_size)
        stale = keys_rotation.verify(rt, current, batch_size=batch_size) if retire_old_keys else 0
    out: dict[str, object] = {
        "keysFrom": "environment" if path is None else str(path),
        "keys": len(current.fernet_keys),
        "complete": report.complete,
        "tables": {name: vars_of(t) for name, t in report.tables.items()},
    }
    if retire_old_keys:
        out["staleValues"] = stale
        if stale:
            emit(out)
            fail(f"{stale} values still need an old key; old keys kept", EXIT_FAILED)
        if path is None:
            out["set"] = {"CONTACTVAULT_ENCRYPTION_KEYS": current.fernet_keys[0]}
        else:
            out["keys"] = len(keys_rotation.retire_old_keys(path).fernet_keys)
    emit(out)
    if report.unreadable:
        fail(f"{report.unreadable} values open with no configured key", EXIT_FAILED)


def vars_of(report: object) -> dict[str, int]:
    """A table report as plain JSON."""
    names = ("scanned", "reencrypted", "current", "unreadable", "changed_meanwhile")
    return {name: int(getattr(report, name)) for name in names}


def checked_address(kind: str, value: str) -> str:
    """An email, phone or domain in its canonical form, or a usage error that never quotes it."""
    from contactvault.server.services.suppressions import normal_value, problem_of

    normal = normal_value(kind, value)
    if normal is None:
        fail(f"--{kind} {problem_of(kind, value)}; nothing was changed", EXIT_USAGE)
    return normal


def erase(
    email: Annotated[str | None, typer.Option(help="An email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="A phone number.")] = None,
    person: Annotated[str | None, typer.Option(help="A personnel id.")] = None,
    delete_profile: Annotated[
        bool, typer.Option("--delete-profile", help="Also delete the directory profile (name, title, events).")
    ] = False,
    db: DbOption = None,
) -> None:
    """Erase a person's contact data everywhere and keep them suppressed; prints the accounts that had unlocked them."""
    from contactvault.server.services import erasure

    given = [(k, v) for k, v in (("email", email), ("phone", phone), ("person", person)) if v is not None]
    if len(given) != 1:
        fail("give exactly one of --email, --phone or --person", EXIT_USAGE)
    kind, value = given[0]
    if kind == "person" and not (value.isascii() and value.isdigit() and 0 < int(value) < 2**63):
        fail("--person must be a personnel id (digits)", EXIT_USAGE)
    if kind != "person":
        checked_address(kind, value)
        value = value.strip()  # as typed: erasure matches its canonical and its legacy form
    trace_id = _trace_id()
    with admin_runtime(db) as rt, domain_errors():
        if kind == "person":
            report = erasure.erase_person(rt, int(value), delete_profile=delete_profile, trace_id=trace_id)
        else:
            report = erasure.erase_address(rt, kind, value, delete_profile=delete_profile, trace_id=trace_id)
    emit(report.as_json(trace_id))


def purge_retention(
    days: Annotated[
        int | None, typer.Option(min=0, help="Override CONTACTVAULT_UNLOCK_RETENTION_DAYS (0 keeps everything).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Remove revealed values older than the retention period (the unlock rows stay: nobody is charged twice)."""
    from contactvault.server.services import retention

    with admin_runtime(db) as rt, domain_errors():
        report = retention.purge_unlock_values(rt, days, trace_id=_trace_id())
    emit(
        {
            "retentionDays": report.retention_days,
            "cutoff": report.cutoff,
            "purged": report.purged,
            "accounts": report.accounts,
        }
    )


def audit(
    account: Annotated[str | None, typer.Option(help="Only this account's rows.")] = None,
    since: Annotated[str | None, typer.Option(help="Only rows at or after this ISO 8601 instant.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many rows, newest first.")] = 100,
    db: DbOption = None,
) -> None:
    """List audit rows as JSON (no secret and no personal value is ever in them)."""
    from contactvault.server.services import audit_view

    if account is not None and not (account.isascii() and account.isdigit() and 0 < int(account) < 2**63):
        fail(f"account id must be digits, got {account!r}", EXIT_USAGE)
    moment = None
    if since is not None:
        try:
            moment = datetime.fromisoformat(since)
        except ValueError:
            fail(f"--since is not ISO 8601: {since!r}", EXIT_USAGE)
        if moment.tzinfo is None:
            fail("--since needs a timezone, e.g. 2026-01-01T00:00:00Z", EXIT_USAGE)
    with admin_runtime(db) as rt, domain_errors():
        emit(
            audit_view.list_entries(
                rt, account_id=int(account) if account is not None else None, since=moment, limit=limit
            )
        )


def keys_check(db: DbOption = None) -> None:
    """List the row ids of sealed values no configured encryption key opens (never a value). Exit 1 if any."""
    from contactvault.server.services import sealed

    with admin_runtime(db) as rt, domain_errors():
        found = sealed.unreadable_values(rt)
    ok = not any(found.values())
    emit({"ok": ok, "unreadable": found})
    if not ok:
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer, key_app: typer.Typer) -> None:
    """Add these commands to ``contactvault admin`` (and ``admin key``, ``admin keys``)."""
    keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
    keys_app.command("check")(keys_check)
    app.add_typer(keys_app, name="keys")
    key_app.command("rotate")(key_rotate)
    app.command("rotate-encryption-key")(rotate_encryption_key)
    app.command()(erase)
    app.command("purge-retention")(purge_retention)
    app.command()(audit)
