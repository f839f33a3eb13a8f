"""What an account has unlocked, and which of those people were since erased or put on the opt-out list.

Both feed client-side copies (the CLI's state file and exports, CRM syncs, the console): ``unlocked`` is the
account's own record of every contact it paid for, ``erased`` tells it what to delete from its copies.

A value is shown only while the server would still reveal it: not once erased or past retention (the unlock row
keeps no value), and not while the person (``person`` hash), the address (``email``/``phone`` hash of the
decrypted value) or an email's domain (``domain`` hash) is on the opt-out list; then ``value`` is null, the row
itself stays (it was paid for).

Erasures come from the audit log (one ``person.erase`` row per account that had unlocked the person); opt-outs
from the suppressions table (keyed hashes, matched against this account's people and decrypted values). An
erased person is listed once, as ``erased`` for every channel, even though the erasure also suppressed them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum, auto

from cryptography.fernet import InvalidToken

from contactvault.server.crypto import Cipher
from contactvault.server.db import unlocked as q
from contactvault.server.db.engine import Transaction
from contactvault.server.db.unlocked import UnlockRecord
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.runtime import Runtime
from contactvault.server.services.directory import Page, PageRequest, page_of
from contactvault.server.services.suppressions import covering_entries
from contactvault.server.services.unlocks import VerificationView

log = logging.getLogger("contactvault.unlocked")

SINCE_EXAMPLE = "2026-11-30T09:00:00Z"


def parse_since(raw: str | None) -> datetime | None:
    """An ISO 8601 date-time (``Z`` or an offset; without one it is UTC; a bare date is its midnight UTC)."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidRequest(
            f"since must be an ISO 8601 date-time such as {SINCE_EXAMPLE}.", {"field": "since"}
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC or 9999-12-31 west of it: before or after every row
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class UnlockedView:
    """A (person, channel) this account paid for; ``value`` None once erased, past retention or opted out (or when
    no configured key opens it), ``verification`` None where never checked; ``source`` where the delivered value
    came from (the import's label, ``pattern`` for an inferred one, a provider's name), None on rows older than it."""

    personnel_id: int
    channel: str
    value: str | None
    verification: VerificationView | None
    unlocked_at: datetime | None
    task_id: int | None
    source: str | None = None


class RemovalReason(Enum):
    """Why a contact must go from client copies."""

    ERASED = auto()
    OPTED_OUT = auto()


@dataclass(frozen=True, slots=True)
class ErasedView:
    """An unlocked person erased (``channel`` None: every channel) or opted out (the person, or one address)."""

    personnel_id: int
    reason: RemovalReason
    channel: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class _Hidden:
    """What the opt-out list hides among some unlock rows: whole people, and (person, channel) addresses."""

    people: set[int]
    addresses: set[tuple[int, str]]

    def hides(self, personnel_id: int, channel: str) -> bool:
        return personnel_id in self.people or (personnel_id, channel) in self.addresses


def _listed(
    conn: Transaction, wanted: Iterable[tuple[str, bytes]], since: datetime | None
) -> dict[tuple[str, bytes], datetime]:
    """Which of these (kind, keyed hash) pairs are on the opt-out list (added since ``since``), and when."""
    pairs = set(wanted)
    digests = sorted({digest for _, digest in pairs})
    return {(kind, digest): at for kind, digest, at in q.listed(conn, digests, since) if (kind, digest) in pairs}


def _candidates(cipher: Cipher, rows: Sequence[UnlockRecord]) -> dict[tuple[int, str | None], list[tuple[str, bytes]]]:
    """(person, None) -> the person's hash, (person, channel) -> the stored value's entries (canonical and legacy
    forms, and an email's domain: ``suppressions.covering_entries``), for these unlock rows."""
    found: dict[tuple[int, str | None], list[tuple[str, bytes]]] = {}
    for row in rows:
        pid, channel = int(row.personnel_id), str(row.channel)
        found[(pid, None)] = [("person", cipher.lookup_hash("person", str(pid)))]
        value = _open(cipher, row)
        if value is not None:
            found[(pid, channel)] = covering_entries(cipher, channel, value)
    return found


def _opted_out(conn: Transaction, cipher: Cipher, rows: Sequence[UnlockRecord], since: datetime | None) -> _Hidden:
    """Which of these unlock rows the opt-out list covers (entries added since ``since``, when given)."""
    candidates = _candidates(cipher, rows)
    listed = _listed(conn, [pair for pairs in candidates.values() for pair in pairs], since)
    hit = {key for key, pairs in candidates.items() if any(pair in listed for pair in pairs)}
    people = {pid for pid, channel in hit if channel is None}
    addresses = {(pid, channel) for pid, channel in hit if channel}
    return _Hidden(people, addresses)


def _open(cipher: Cipher, row: UnlockRecord) -> str | None:
    if row.value_encrypted is None:
        return None
    try:
        return cipher.open(bytes(row.value_encrypted))
    except InvalidToken:
        log.warning("unlock %s opens with no configured key; shown without its value", row.id)
        return None


def list_unlocked(rt: Runtime, account_id: int, page: PageRequest, since: datetime | None) -> Page[UnlockedView]:
    """Page of every contact this account unlocked (since ``since``), oldest first."""
    with rt.db.read() as conn:
        total, rows = q.unlocked_page(conn, account_id, since, page.size, (page.page - 1) * page.size)
        hidden = _opted_out(conn, rt.cipher, rows, None)
    return page_of([_unlocked_item(rt.cipher, row, hidden) for row in rows], total, page)


def _unlocked_item(cipher: Cipher, row: UnlockRecord, hidden: _Hidden) -> UnlockedView:
    pid, channel = int(row.personnel_id), str(row.channel)
    value = None if hidden.hides(pid, channel) else _open(cipher, row)
    verification = None
    if row.verification_status is not None:
        verification = VerificationView(row.verification_status, row.verification_score, row.checked_at)
    return UnlockedView(pid, channel, value, verification, row.created_at, row.task_id, row.source)


def list_erased(rt: Runtime, account_id: int, page: PageRequest, since: datetime | None) -> Page[ErasedView]:
    """Page of this account's unlocked people erased or opted out (since ``since``), oldest event first."""
    with rt.db.read() as conn:
        erased = _erasures(conn, account_id, since)
        rows = q.account_unlocks(conn, account_id)
        opted = _opt_out_times(conn, rt.cipher, [r for r in rows if int(r.personnel_id) not in erased], since)
    items = [ErasedView(pid, RemovalReason.ERASED, None, at) for pid, at in erased.items()]
    items += [ErasedView(pid, RemovalReason.OPTED_OUT, channel, at) for (pid, channel), at in opted.items()]
    items.sort(key=lambda item: (_utc(item.at), item.personnel_id, item.channel or ""))
    start = (page.page - 1) * page.size
    return page_of(items[start : start + page.size], len(items), page)


def _utc(moment: datetime) -> str:
    """The sort key the list has always had: the moment's UTC text as the wire writes it (so naive and aware
    moments compare, and the order is the one clients have seen)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _erasures(conn: Transaction, account_id: int, since: datetime | None) -> dict[int, datetime]:
    """Person id -> the latest erasure of a person this account had unlocked."""
    return q.erasures(conn, account_id, AuditAction.PERSON_ERASE.value, since)


def _opt_out_times(
    conn: Transaction, cipher: Cipher, rows: Sequence[UnlockRecord], since: datetime | None
) -> dict[tuple[int, str | None], datetime]:
    """(person, None) for a person on the list, else (person, channel) for an address on it -> when it was added."""
    candidates = _candidates(cipher, rows)
    listed = _listed(conn, [pair for pairs in candidates.values() for pair in pairs], since)
    when = {
        key: min(listed[p] for p in pairs if p in listed)
        for key, pairs in candidates.items()
        if any(p in listed for p in pairs)
    }
    found = {key: at for key, at in when.items() if key[1] is None}
    for (pid, channel), at in when.items():
        if channel is not None and (pid, None) not in found:
            found[(pid, channel)] = at
    return found
