"""The per-process key-lookup cache: stored keys by id, valid while the database's change marker stands still.

Every request used to open a read transaction just to fetch its key row (a primary-key read that SQLAlchemy and
the pool make cost more than the balance read itself). Here a looked-up row is kept under the database's change
marker (``Database.change_marker``: SQLite's ``PRAGMA data_version``, which moves with every commit of any
connection of any process), and the whole cache is dropped the moment the marker moves. A revocation, a rotation,
a key's first use being recorded, or any other write is therefore seen by the very next request on every node;
the key's state is still judged at each request against the clock, so a rotated key expires on time. Without a
marker (PostgreSQL) nothing is cached. Only keys that exist are kept (an unknown id never fills the cache), and
at most ``max_entries`` of them.
"""

from __future__ import annotations

import threading

from contactvault.server.db.accounts import StoredKey

MAX_ENTRIES = 10_000


class KeyCache:
    """Key rows by id, all from the moment one change marker stood for."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._rows: dict[str, StoredKey] = {}
        self._marker: int | None = None
        self._lock = threading.Lock()

    def get(self, marker: int, key_id: str) -> StoredKey | None:
        """The cached row, or None; a marker other than the cache's drops every row first."""
        with self._lock:
            if marker != self._marker:
                self._rows.clear()
                self._marker = marker
            return self._rows.get(key_id)

    def put(self, marker: int, row: StoredKey) -> None:
        """Keep a row read after ``marker`` was taken (so it is at least that recent); a stale marker keeps nothing."""
        with self._lock:
            if marker == self._marker and (row.key_id in self._rows or len(self._rows) < self.max_entries):
                self._rows[row.key_id] = row
