"""The opt-out list: people and addresses that are never revealed, nor shown again once revealed (stored as keyed
hashes only)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import datetime

from cryptography.fernet import InvalidToken

from contactvault.server.crypto import Cipher
from contactvault.server.db import audit, locks
from contactvault.server.db import suppressions as stored
from contactvault.server.db.engine import Transaction
from contactvault.server.db.errors import AlreadyExists
from contactvault.server.db.sealed import SealedRow, unlock_tokens_after
from contactvault.server.db.unlocks import bump_tasks_showing
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.domain.tasks import parse_person_id
from contactvault.server.runtime import Runtime

KINDS = ("email", "phone", "person")
SCAN_BATCH = 1000

# The importer's rules (services/import_records.py): an entry that could never match a stored value is refused
# instead of being listed (and reported as "added") for nothing.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_PERSON = re.compile(r"[0-9]{1,19}")
PROBLEMS = {
    "email": "is not a valid email address",
    "phone": "is not a valid phone number (E.164: + country code and 7-15 digits)",
    "person": "is not a personnel id (digits)",
}


def normal_value(kind: str, value: str) -> str | None:
    """The value as it is stored and hashed (a phone without punctuation), or None when it is malformed."""
    text = value.strip()
    if kind == "phone":
        text = _PHONE_PUNCTUATION.sub("", text)
    pattern = {"email": _EMAIL, "phone": _E164, "person": _PERSON}.get(kind)
    return text if pattern is not None and pattern.fullmatch(text) else None


def subject_hash(cipher: Cipher, kind: str, value: str) -> bytes:
    """The keyed hash a suppression is stored and looked up under (InvalidRequest for a malformed value)."""
    if kind not in KINDS:
        raise InvalidRequest(f"Unknown suppression kind {kind!r}.", {"field": "kind"})
    if kind == "person":
        # The worker and erasure hash str(id): "007" must be the same entry as "7", and an id no one can have
        # would be an entry that never matches.
        pid = parse_person_id(value.strip())
        if pid is None:
            raise InvalidRequest("A person is a personnel id (1-20 digits, > 0).", {"field": "person"})
        return cipher.lookup_hash(kind, str(pid))
    normal = normal_value(kind, value)
    if normal is None:
        # The message never quotes the value: it is personal data.
        raise InvalidRequest(f"The {kind} {PROBLEMS[kind]}; nothing was changed.", {"field": kind})
    return cipher.lookup_hash(kind, normal)


def suppress(rt: Runtime, kind: str, value: str) -> bool:
    """Add to the list; False when it was already there.

    Values already revealed are hidden from every account's later views (``services/sealed.show`` checks the
    list); the tasks showing them get a new version, so no cached view or ETag keeps showing them.
    """
    digest = subject_hash(rt.cipher, kind, value)
    people, scanned_to = _people_showing(rt, kind, value, digest)
    now = rt.clock.now()
    try:
        with rt.db.write() as conn:
            locks.suppression_gate(conn, exclusive=True)  # ordered against every worker's record step
            stored.add(conn, kind, digest, now)
            bump_tasks_showing(conn, people + _revealed_since(conn, rt, kind, digest, scanned_to))
            audit.record(conn, [audit.AuditEntry(AuditAction.SUPPRESSION_ADD, subject_type=kind)], now)
    except AlreadyExists:
        return False
    return True


def unsuppress(rt: Runtime, kind: str, value: str) -> bool:
    """Remove from the list (values revealed before show again); False when it was not there."""
    digest = subject_hash(rt.cipher, kind, value)
    people, scanned_to = _people_showing(rt, kind, value, digest)
    now = rt.clock.now()
    with rt.db.write() as conn:
        locks.suppression_gate(conn, exclusive=True)
        removed = stored.remove(conn, kind, digest)
        if removed:
            bump_tasks_showing(conn, people + _revealed_since(conn, rt, kind, digest, scanned_to))
            audit.record(conn, [audit.AuditEntry(AuditAction.SUPPRESSION_REMOVE, subject_type=kind)], now)
    return removed


def _people_showing(rt: Runtime, kind: str, value: str, digest: bytes) -> tuple[list[int], int]:
    """The people whose revealed values this entry covers (the person, or whoever was revealed this address), and
    the last unlock row scanned to find them (0 for a person entry, which needs no scan)."""
    if kind == "person":
        pid = parse_person_id(value.strip())  # never None here: subject_hash refused anything else
        return ([] if pid is None else [pid]), 0
    # Unlocks carry no lookup hash (a resolver may have found an address the vault never had): open them all.
    # An operator command, rare; the scan reads in batches, outside the write transaction, and the write then
    # looks at the rows recorded since (``_revealed_since``).
    people: set[int] = set()
    last_id = 0
    while True:
        with rt.db.read() as conn:
            rows = unlock_tokens_after(conn, last_id, SCAN_BATCH, channel=kind)
        if not rows:
            return sorted(people), last_id
        last_id = rows[-1].row_id
        people |= _revealed_to(rt, kind, digest, rows)


def _revealed_since(conn: Transaction, rt: Runtime, kind: str, digest: bytes, scanned_to: int) -> list[int]:
    """Inside the write, behind the gate: who was revealed this address after the scan (a record step that
    committed meanwhile), so that their task views get a new version too."""
    if kind == "person":
        return []
    return sorted(_revealed_to(rt, kind, digest, unlock_tokens_after(conn, scanned_to, None, channel=kind)))


def _revealed_to(rt: Runtime, kind: str, digest: bytes, rows: Sequence[SealedRow]) -> set[int]:
    people: set[int] = set()
    for row in rows:
        with contextlib.suppress(InvalidToken):  # unreadable: never shown, nothing to hide
            if rt.cipher.lookup_hash(kind, rt.cipher.open(row.token)) == digest:
                people.add(row.personnel_id)
    return people


def has_suppressions(conn: Transaction) -> bool:
    """Whether the list has any entry at all (lets a batch skip the lookups when it is empty)."""
    return stored.any_listed(conn)


def add_hashes(
    conn: Transaction, entries: Sequence[tuple[str, bytes]], now: datetime, trace_id: str | None = None
) -> int:
    """Put (kind, keyed hash) pairs on the list in the caller's transaction; returns how many were new."""
    wanted = {(kind, bytes(digest)) for kind, digest in entries}
    if not wanted:
        return 0
    new = sorted(wanted - stored.present(conn, [d for _, d in wanted]))
    if new:
        stored.add_many(conn, new, now)
        audit.record(
            conn, [audit.AuditEntry(AuditAction.SUPPRESSION_ADD, subject_type=k) for k, _ in new], now, trace_id
        )
    return len(new)


def suppressed_hashes(conn: Transaction, hashes: Sequence[bytes]) -> set[bytes]:
    """Which of these hashes (of any kind) are on the list."""
    return {digest for _, digest in stored.present(conn, hashes)}
