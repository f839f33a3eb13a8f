"""db/idempotency: a key is claimed once; only the claim holding the token completes or releases it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contactvault.server.db import accounts, idempotency
from contactvault.server.db.errors import AlreadyExists
from contactvault.server.runtime import Runtime


def _account(rt: Runtime) -> int:
    with rt.db.write() as conn:
        accounts.insert_account(conn, 1, "a", rt.clock.now())
    return 1


def test_a_second_claim_of_a_key_is_already_exists(rt: Runtime) -> None:
    account, now = _account(rt), rt.clock.now()
    with rt.db.write() as conn:
        idempotency.claim(conn, account, "k", b"fp", now, now + timedelta(hours=1))
    with pytest.raises(AlreadyExists), rt.db.write() as conn:
        idempotency.claim(conn, account, "k", b"other", now, now + timedelta(hours=1))
    with rt.db.write() as conn:
        record = idempotency.lock(conn, account, "k")
    assert record is not None
    assert (record.fingerprint, record.state, record.status_code) == (b"fp", "in_progress", None)


def test_only_the_token_holder_completes_and_releases(rt: Runtime) -> None:
    account, now = _account(rt), rt.clock.now()
    later = now + timedelta(seconds=30)
    with rt.db.write() as conn:
        idempotency.claim(conn, account, "k", b"fp", now, now + timedelta(hours=1))
        idempotency.take_over(conn, account, "k", later)
        assert not idempotency.complete(conn, account, "k", now, status_code=200, body=b"{}", expires_at=later)
        idempotency.release(conn, account, "k", now)
        assert idempotency.lock(conn, account, "k") is not None
        assert idempotency.complete(conn, account, "k", later, status_code=201, body=b"{}", expires_at=later)
        record = idempotency.lock(conn, account, "k")
    assert record is not None
    assert (record.state, record.status_code, record.response_body) == ("completed", 201, b"{}")


def test_purge_removes_only_expired_records(rt: Runtime) -> None:
    account, now = _account(rt), rt.clock.now()
    with rt.db.write() as conn:
        idempotency.claim(conn, account, "old", b"fp", now, now)
        idempotency.claim(conn, account, "new", b"fp", now, now + timedelta(seconds=1))
        assert idempotency.purge_expired(conn, now) == 1
        assert idempotency.lock(conn, account, "old") is None
        assert idempotency.lock(conn, account, "new") is not None
