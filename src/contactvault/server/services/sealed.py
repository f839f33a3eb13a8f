"""Sealed personal values: how a revealed value is shown later, and a check that every sealed value still opens.

Every view of a revealed value (profile, personnel list, contact search, task polls) goes through ``show``:

- a value that no configured key opens (sealed under a retired or unknown key) is shown as null and flagged
  ``unreadable``, so the view degrades for that value only instead of failing the whole page; it is logged once
  per value (row id only, never the value);
- a value whose person, address or (an email's) domain is on the opt-out list is hidden (null) from every account,
  as long as the suppression stands (``admin unsuppress`` shows it again; ``admin erase`` removes it for good).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.fernet import InvalidToken

from contactvault.server.db.engine import Transaction
from contactvault.server.db.sealed import SealedRow, contact_point_tokens_after, unlock_tokens_after
from contactvault.server.runtime import Runtime
from contactvault.server.services.suppressions import address_hashes, has_suppressions, suppressed_hashes

log = logging.getLogger("contactvault.sealed")

SCAN_BATCH = 1000
UNREADABLE = "VALUE_UNREADABLE"
# Row ids already logged as unreadable, per database: a page polled every second must not log every second.
_logged: set[tuple[str, str, int]] = set()
_logged_lock = threading.Lock()
_MAX_LOGGED = 100_000


@dataclass(frozen=True, slots=True)
class Sealed:
    """One revealed value as stored: its ``unlocks`` row, person, channel and token."""

    row_id: int
    personnel_id: int
    channel: str
    token: bytes


@dataclass(frozen=True, slots=True)
class Shown:
    """What a view shows for a sealed value: the value, or null (hidden, or ``unreadable``)."""

    value: str | None
    unreadable: bool = False


def show(rt: Runtime, conn: Transaction, sealed: Sequence[Sealed]) -> dict[int, Shown]:
    """Per ``unlocks`` row id: the value to show (opened, unless unreadable or on the opt-out list)."""
    shown: dict[int, Shown] = {}
    opened: list[tuple[Sealed, str]] = []
    for s in sealed:
        try:
            opened.append((s, rt.cipher.open(bytes(s.token))))
        except InvalidToken:
            _log_unreadable(rt, "unlocks", s.row_id)
            shown[s.row_id] = Shown(None, unreadable=True)
    hidden = _suppressed(rt, conn, opened)
    for s, value in opened:
        shown[s.row_id] = Shown(None if s.row_id in hidden else value)
    return shown


def _suppressed(rt: Runtime, conn: Transaction, opened: Sequence[tuple[Sealed, str]]) -> set[int]:
    """Row ids whose person, address or (an email's) domain is on the opt-out list (one query; none when the list
    is empty)."""
    if not opened or not has_suppressions(conn):
        return set()
    keys = {
        s.row_id: (rt.cipher.lookup_hash("person", str(s.personnel_id)), *address_hashes(rt.cipher, s.channel, value))
        for s, value in opened
    }
    listed = suppressed_hashes(conn, sorted({h for pair in keys.values() for h in pair}))
    return {row_id for row_id, pair in keys.items() if listed.intersection(pair)}


def _log_unreadable(rt: Runtime, table: str, row_id: int) -> None:
    key = (rt.settings.database_url, table, row_id)
    with _logged_lock:
        if key in _logged:
            return
        if len(_logged) >= _MAX_LOGGED:
            _logged.clear()
        _logged.add(key)
    log.warning(
        "%s row %s is unreadable (no configured key opens it): shown as null with %s; "
        "list them all with `contactvault admin keys check`",
        table,
        row_id,
        UNREADABLE,
    )


def unreadable_values(rt: Runtime) -> dict[str, list[str]]:
    """The row ids of every sealed value (revealed or in the vault) that no configured key opens."""
    return {
        "unlocks": [str(i) for i in _scan(rt, unlock_tokens_after)],
        "contactPoints": [str(i) for i in _scan(rt, contact_point_tokens_after)],
    }


def _scan(rt: Runtime, batch: Callable[[Transaction, int, int], list[SealedRow]]) -> list[int]:
    bad: list[int] = []
    last_id = 0
    while True:
        with rt.db.read() as conn:
            rows = batch(conn, last_id, SCAN_BATCH)
        if not rows:
            return bad
        last_id = rows[-1].row_id
        for row in rows:
            try:
                rt.cipher.open(row.token)
            except InvalidToken:
                bad.append(row.row_id)
