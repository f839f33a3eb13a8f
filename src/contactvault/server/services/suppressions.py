"""The opt-out list: people, addresses and company domains that are never revealed, nor shown again once revealed
(stored as keyed hashes only).

A ``domain`` entry covers every email at that domain (``address_hashes``), never a phone; the worker also ends the
email items of the company's people before any DNS, SMTP or HTTP traffic (``worker/pipeline.py``)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import datetime

from cryptography.fernet import InvalidToken

from contactvault.server.addresses import AddressError, canonical, canonical_domain, domain_of_email, legacy_form
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

KINDS = ("email", "phone", "person", "domain")
SCAN_BATCH = 1000

_PERSON = re.compile(r"[0-9]{1,19}")
PROBLEMS = {
    "email": "is not a valid email address",
    "phone": "is not a valid phone number (+ country code and number)",
    "person": "is not a personnel id (digits)",
    "domain": "is not a valid domain name",
}


def problem_of(kind: str, value: str) -> str:
    """What is wrong with a malformed value, without quoting it (an email given as a domain is named as such)."""
    if kind == "domain":
        try:
            canonical(kind, value)
        except AddressError as error:
            return error.message
    return PROBLEMS[kind]


def normal_value(kind: str, value: str) -> str | None:
    """The value's canonical form (``server/addresses.py``; a person id as written), or None when it is malformed.

    An entry that could never match a stored value is refused instead of being listed (and reported as "added")
    for nothing; a phone number needs its country code here (an opt-out has no company to read it by).
    """
    if kind == "person":
        text = value.strip()
        return text if _PERSON.fullmatch(text) else None
    try:
        return canonical(kind, value)
    except AddressError:
        return None


def value_hashes(cipher: Cipher, kind: str, value: str) -> tuple[bytes, ...]:
    """Every keyed hash an email or phone is listed under: its canonical form's and, for opt-outs recorded before
    canonical forms, its legacy form's (one hash when both forms agree, the legacy one alone when it has no
    canonical form)."""
    legacy = cipher.lookup_hash(kind, legacy_form(kind, value))
    try:
        canonical_hash = cipher.lookup_hash(kind, canonical(kind, value))
    except AddressError:
        return (legacy,)
    return (canonical_hash,) if canonical_hash == legacy else (canonical_hash, legacy)


def domain_hash(cipher: Cipher, email: str) -> bytes | None:
    """The keyed hash a domain entry covering this email is stored under (None when it has no readable domain)."""
    domain = domain_of_email(email)
    return None if domain is None else cipher.lookup_hash("domain", domain)


def company_domain_hash(cipher: Cipher, domain: str | None) -> bytes | None:
    """The keyed hash a domain entry for this company domain (as the directory holds it) is stored under; None when
    the company has no well-formed domain."""
    if not domain:
        return None
    try:
        return cipher.lookup_hash("domain", canonical_domain(domain))
    except AddressError:
        return None


def covering_entries(cipher: Cipher, channel: str, value: str) -> list[tuple[str, bytes]]:
    """Every (kind, keyed hash) entry that hides this revealed value: the address's (``value_hashes``) and, for an
    email, its domain's. (The person's entry is the caller's: it is not a function of the value.)"""
    entries = [(channel, digest) for digest in value_hashes(cipher, channel, value)]
    if channel == "email" and (digest := domain_hash(cipher, value)) is not None:
        entries.append(("domain", digest))
    return entries


def address_hashes(cipher: Cipher, channel: str, value: str) -> tuple[bytes, ...]:
    """The keyed hashes of ``covering_entries`` (the kind is part of every keyed hash, so a hash names its kind)."""
    return tuple(digest for _, digest in covering_entries(cipher, channel, value))


def found_value_hashes(cipher: Cipher, kind: str, value_hash: bytes | None, sealed: bytes | None) -> set[bytes]:
    """The hashes a resolver's found value is checked under: the hash it came with (the vault's legacy hash of the
    value as imported) and ``address_hashes`` of the sealed value itself (whichever resolver found it): its address
    in both forms and, for an email, its domain."""
    hashes = {bytes(value_hash)} if value_hash else set()
    if sealed is not None:
        with contextlib.suppress(InvalidToken):  # unreadable: the hash it came with is all there is
            hashes.update(address_hashes(cipher, kind, cipher.open(bytes(sealed))))
    return hashes


def subject_hash(cipher: Cipher, kind: str, value: str) -> bytes:
    """The keyed hash a suppression is stored under (InvalidRequest for a malformed value): the canonical form's."""
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
        raise InvalidRequest(f"The {kind} {problem_of(kind, value)}; nothing was changed.", {"field": kind})
    return cipher.lookup_hash(kind, normal)


def _listed_hashes(cipher: Cipher, kind: str, value: str) -> list[bytes]:
    """The entries that stand for this subject: its canonical hash first, then its legacy one (addresses)."""
    digest = subject_hash(cipher, kind, value)
    if kind in ("person", "domain"):  # no entry was ever recorded under another form of these
        return [digest]
    return [digest, *(h for h in value_hashes(cipher, kind, value) if h != digest)]


def suppress(rt: Runtime, kind: str, value: str) -> bool:
    """Add to the list; False when it was already there.

    Values already revealed are hidden from every account's later views (``services/sealed.show`` checks the
    list); the tasks showing them get a new version, so no cached view or ETag keeps showing them. A domain hides
    every email revealed at it, like an address entry (the same scan).
    """
    listed = _listed_hashes(rt.cipher, kind, value)
    digest = listed[0]
    people, scanned_to = _people_showing(rt, kind, value, digest)
    now = rt.clock.now()
    try:
        with rt.db.write() as conn:
            locks.suppression_gate(conn, exclusive=True)  # ordered against every worker's record step
            before = {d for k, d in stored.present(conn, listed) if k == kind}
            if digest in before:
                return False
            # Listed only under its legacy hash (recorded before canonical forms): the canonical entry is added, so
            # the value blocks in the form a resolver finds it, and the answer is still "already there".
            stored.add(conn, kind, digest, now)
            bump_tasks_showing(conn, people + _revealed_since(conn, rt, kind, digest, scanned_to))
            audit.record(conn, [audit.AuditEntry(AuditAction.SUPPRESSION_ADD, subject_type=kind)], now)
    except AlreadyExists:
        return False
    return not before


def unsuppress(rt: Runtime, kind: str, value: str) -> bool:
    """Remove from the list (values revealed before show again); False when it was not there.

    Both the canonical and the legacy entry go: either alone would keep the address hidden."""
    listed = _listed_hashes(rt.cipher, kind, value)
    digest = listed[0]
    people, scanned_to = _people_showing(rt, kind, value, digest)
    now = rt.clock.now()
    with rt.db.write() as conn:
        locks.suppression_gate(conn, exclusive=True)
        removed = any([stored.remove(conn, kind, d) for d in listed])  # noqa: C419 (remove every entry: no short cut)
        if removed:
            bump_tasks_showing(conn, people + _revealed_since(conn, rt, kind, digest, scanned_to))
            audit.record(conn, [audit.AuditEntry(AuditAction.SUPPRESSION_REMOVE, subject_type=kind)], now)
    return removed


def _people_showing(rt: Runtime, kind: str, value: str, digest: bytes) -> tuple[list[int], int]:
    """The people whose revealed values this entry covers (the person, or whoever was revealed this address or an
    email at this domain), and the last unlock row scanned to find them (0 for a person entry, which needs no scan)."""
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
            rows = unlock_tokens_after(conn, last_id, SCAN_BATCH, channel=_channel_of(kind))
        if not rows:
            return sorted(people), last_id
        last_id = rows[-1].row_id
        people |= _revealed_to(rt, kind, digest, rows)


def _revealed_since(conn: Transaction, rt: Runtime, kind: str, digest: bytes, scanned_to: int) -> list[int]:
    """Inside the write, behind the gate: who was revealed this address after the scan (a record step that
    committed meanwhile), so that their task views get a new version too."""
    if kind == "person":
        return []
    rows = unlock_tokens_after(conn, scanned_to, None, channel=_channel_of(kind))
    return sorted(_revealed_to(rt, kind, digest, rows))


def _channel_of(kind: str) -> str:
    """The channel whose revealed values an address or domain entry covers."""
    return "email" if kind == "domain" else kind


def _revealed_to(rt: Runtime, kind: str, digest: bytes, rows: Sequence[SealedRow]) -> set[int]:
    people: set[int] = set()
    channel = _channel_of(kind)
    for row in rows:
        with contextlib.suppress(InvalidToken):  # unreadable: never shown, nothing to hide
            if digest in address_hashes(rt.cipher, channel, rt.cipher.open(row.token)):
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


def carry_over_opt_outs(rt: Runtime, hashes: Sequence[tuple[str, bytes, bytes]]) -> int:
    """For each (kind, legacy hash, canonical hash) of a value the vault holds: when the legacy hash is listed (an
    opt-out recorded before canonical forms), list the canonical hash too, so that the value blocks in the form any
    resolver finds it. Returns how many entries were added (none when run again). Only a batch with something to
    add takes a write (and the suppression gate, first)."""
    pairs = sorted({(kind, bytes(legacy), bytes(canon)) for kind, legacy, canon in hashes if legacy != canon})
    added = 0
    for start in range(0, len(pairs), SCAN_BATCH):
        chunk = pairs[start : start + SCAN_BATCH]
        wanted = [h for _, legacy, canon in chunk for h in (legacy, canon)]
        with rt.db.read() as conn:
            if not stored.any_listed(conn):
                return added
            if not _to_carry(stored.present(conn, wanted), chunk):
                continue
        with rt.db.write() as conn:
            locks.suppression_gate(conn, exclusive=True)
            new = _to_carry(stored.present(conn, wanted), chunk)
            stored.add_many(conn, new, rt.clock.now())
        added += len(new)
    return added


def _to_carry(listed: set[tuple[str, bytes]], pairs: Sequence[tuple[str, bytes, bytes]]) -> list[tuple[str, bytes]]:
    return sorted({(k, canon) for k, legacy, canon in pairs if (k, legacy) in listed and (k, canon) not in listed})
