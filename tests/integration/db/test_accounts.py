"""db/accounts: keys as stored, and the last-used stamp written at most once per resolution."""

from __future__ import annotations

from datetime import timedelta

from contactvault.server.db import accounts
from contactvault.server.runtime import Runtime


def test_keys_are_listed_oldest_first_per_account(rt: Runtime) -> None:
    now = rt.clock.now()
    with rt.db.write() as conn:
        accounts.insert_account(conn, 1, "a", now)
        accounts.insert_account(conn, 2, "b", now)
        accounts.insert_key(conn, "bbbbbbbb", 1, b"h1", None, now + timedelta(seconds=1))
        accounts.insert_key(conn, "aaaaaaaa", 1, b"h2", "ci", now + timedelta(seconds=2))
        accounts.insert_key(conn, "cccccccc", 2, b"h3", None, now)
    with rt.db.read() as conn:
        assert accounts.account_exists(conn, 2)
        assert not accounts.account_exists(conn, 3)
        assert accounts.key_id_taken(conn, "aaaaaaaa")
        assert not accounts.key_id_taken(conn, "dddddddd")
        assert [k.key_id for k in accounts.keys(conn, 1)] == ["bbbbbbbb", "aaaaaaaa"]
        assert [k.key_id for k in accounts.keys(conn)] == ["cccccccc", "bbbbbbbb", "aaaaaaaa"]
        stored = accounts.key(conn, "aaaaaaaa")
    assert stored is not None
    assert (stored.account_id, stored.label, stored.secret_hash, stored.revoked_at) == (1, "ci", b"h2", None)


def test_touch_writes_only_over_a_stale_stamp(rt: Runtime) -> None:
    now = rt.clock.now()
    with rt.db.write() as conn:
        accounts.insert_account(conn, 1, "a", now)
        accounts.insert_key(conn, "aaaaaaaa", 1, b"h", None, now)
        assert accounts.touch(conn, "aaaaaaaa", now - timedelta(minutes=1), now)
        assert not accounts.touch(conn, "aaaaaaaa", now - timedelta(minutes=1), now + timedelta(seconds=30))
        assert accounts.touch(conn, "aaaaaaaa", now, now + timedelta(minutes=2))
        stored = accounts.key(conn, "aaaaaaaa")
    assert stored is not None
    assert stored.last_used_at == now + timedelta(minutes=2)
