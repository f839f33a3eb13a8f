"""db/suppressions: an entry is stored once; lookups by hash return (kind, hash)."""

from __future__ import annotations

import pytest

from contactvault.server.db import suppressions
from contactvault.server.db.errors import AlreadyExists
from contactvault.server.runtime import Runtime


def test_an_entry_is_stored_once(rt: Runtime) -> None:
    now = rt.clock.now()
    with rt.db.read() as conn:
        assert not suppressions.any_listed(conn)
    with rt.db.write() as conn:
        suppressions.add(conn, "email", b"h1", now)
    with pytest.raises(AlreadyExists), rt.db.write() as conn:
        suppressions.add(conn, "email", b"h1", now)
    with rt.db.write() as conn:
        suppressions.add_many(conn, [("phone", b"h2"), ("person", b"h3")], now)
        assert suppressions.any_listed(conn)
        assert suppressions.present(conn, [b"h1", b"h3", b"nope"]) == {("email", b"h1"), ("person", b"h3")}
        assert suppressions.present(conn, []) == set()
        assert suppressions.remove(conn, "email", b"h1")
        assert not suppressions.remove(conn, "email", b"h1")
        assert not suppressions.remove(conn, "email", b"h2")  # the kind is part of the entry
