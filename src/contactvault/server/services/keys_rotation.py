"""Encryption key rotation: a new Fernet key goes first, then every sealed value is re-encrypted in short batches.

The order of events that keeps a running service readable throughout:

1. ``add_primary_key`` writes the key file with the new key first and every old key after it.
2. ``reencrypt`` walks ``contact_points`` and ``unlocks`` by id, 1,000 rows at a time: it reads a batch, rotates
   the tokens with no transaction open, then writes them back in one short transaction, each row only if it still
   holds the token that was read (a concurrent erasure or purge wins). Rows already sealed under the new key are
   skipped, so running it again resumes where it stopped and a finished run is a no-op.
3. Once every table is done, the key canary is re-sealed under the new key too (``key_checks``).
4. A running API process meets a token its in-memory keys cannot open; ``crypto.ReloadingCipher`` re-reads the
   key file once and carries on. Old tokens still open (the old keys stay in the file) until the operator retires them.

Keys never enter the database: the audit row of a rotation carries counts only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from contactvault.server.crypto import Cipher, KeyMaterial
from contactvault.server.db import audit
from contactvault.server.db.engine import Database
from contactvault.server.db.sealed import SEALED_TABLES, replace_token, tokens_after
from contactvault.server.domain.audit import AuditAction
from contactvault.server.key_checks import reseal_canary
from contactvault.server.runtime import Runtime

log = logging.getLogger("contactvault.keys")

DEFAULT_BATCH = 1000


def add_primary_key(path: Path) -> KeyMaterial:
    """Put a new Fernet key first in the key file (old keys stay, so old tokens still open); returns the new set."""
    current = KeyMaterial.load(path)
    fresh = KeyMaterial((Fernet.generate_key().decode(), *current.fernet_keys), current.hash_key)
    fresh.dump(path)  # atomic: a reader sees the old file or the new one
    return fresh


def retire_old_keys(path: Path) -> KeyMaterial:
    """Keep only the newest Fernet key (run after a complete re-encryption)."""
    current = KeyMaterial.load(path)
    kept = KeyMaterial(current.fernet_keys[:1], current.hash_key)
    kept.dump(path)
    return kept


@dataclass(slots=True)
class TableReport:
    """What a re-encryption pass did to one table."""

    scanned: int = 0
    reencrypted: int = 0
    current: int = 0
    unreadable: int = 0
    changed_meanwhile: int = 0


@dataclass(slots=True)
class ReencryptReport:
    """Per table; ``complete`` is False when the pass stopped early (``max_batches``)."""

    tables: dict[str, TableReport] = field(default_factory=dict)
    complete: bool = True

    @property
    def unreadable(self) -> int:
        """Rows that no configured key opens."""
        return sum(t.unreadable for t in self.tables.values())


def reencrypt(
    rt: Runtime, keys: KeyMaterial, *, batch_size: int = DEFAULT_BATCH, max_batches: int | None = None
) -> ReencryptReport:
    """Re-seal every stored value under ``keys``' first key, in batches; idempotent and resumable."""
    primary = Fernet(keys.fernet_keys[0].encode())
    every = MultiFernet([Fernet(k.encode()) for k in keys.fernet_keys])
    report = ReencryptReport()
    batches = 0
    for table in SEALED_TABLES:
        stats = report.tables.setdefault(table, TableReport())
        last_id = 0
        while True:
            if max_batches is not None and batches >= max_batches:
                report.complete = False
                break
            rows = _read_batch(rt.db, table, last_id, batch_size)
            if not rows:
                break
            batches += 1
            last_id = rows[-1][0]
            changes = _rotate_batch(rows, primary, every, stats)
            if changes:
                written = _write_batch(rt.db, table, changes)
                stats.reencrypted += written
                stats.changed_meanwhile += len(changes) - written
    if report.complete:
        # The canary follows the newest key: a node started later without it is refused (server/key_checks.py).
        reseal_canary(rt.db, Cipher(keys))
    now = rt.clock.now()
    with rt.db.write() as conn:
        audit.record(
            conn,
            [
                audit.AuditEntry(
                    AuditAction.ENCRYPTION_ROTATE,
                    subject_type="encryption",
                    detail={
                        "complete": report.complete,
                        **{name: t.reencrypted for name, t in report.tables.items()},
                        "unreadable": report.unreadable,
                    },
                )
            ],
            now,
        )
    return report


def _read_batch(db: Database, table: str, after: int, size: int) -> list[tuple[int, bytes]]:
    with db.read() as conn:
        rows = tokens_after(conn, table, after, size)
    return [(r.row_id, r.token) for r in rows]


def _rotate_batch(
    rows: list[tuple[int, bytes]], primary: Fernet, every: MultiFernet, stats: TableReport
) -> list[tuple[int, bytes, bytes]]:
    changes: list[tuple[int, bytes, bytes]] = []
    for row_id, token in rows:
        stats.scanned += 1
        try:
            primary.decrypt(token)
        except InvalidToken:
            pass
        else:
            stats.current += 1
            continue
        try:
            fresh = every.rotate(token)
        except InvalidToken:
            stats.unreadable += 1
            log.warning("row %s of a sealed table opens with no configured key", row_id)
            continue
        changes.append((row_id, token, fresh))
    return changes


def _write_batch(db: Database, table: str, changes: list[tuple[int, bytes, bytes]]) -> int:
    """Write (row id, old token, new token) changes; rows changed meanwhile are left to the change."""
    written = 0
    with db.write() as conn:
        # One statement per row: the driver's executemany does not report per-row counts everywhere.
        for row_id, old, new in changes:
            written += replace_token(conn, table, row_id, old, new)
    return written


def verify(rt: Runtime, keys: KeyMaterial, *, batch_size: int = DEFAULT_BATCH) -> int:
    """How many stored values do not open with the newest key alone (0 means old keys may be retired)."""
    primary = Fernet(keys.fernet_keys[0].encode())
    stale = 0
    for table in SEALED_TABLES:
        last_id = 0
        while rows := _read_batch(rt.db, table, last_id, batch_size):
            last_id = rows[-1][0]
            for _, token in rows:
                try:
                    primary.decrypt(token)
                except InvalidToken:
                    stale += 1
    return stale
