"""The worker loop's housekeeping: expired idempotency records are purged on a schedule (FakeClock)."""

from __future__ import annotations

from contactvault.server.clock import FakeClock
from contactvault.server.db import tables
from contactvault.server.runtime import Runtime
from contactvault.server.services import idempotency
from tests.engine import count, worker
from tests.factories import Account


def test_the_worker_purges_expired_idempotency_records_every_interval(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    directory.settings = directory.settings.model_copy(
        update={"idempotency_ttl_seconds": 60, "idempotency_purge_interval_seconds": 600}
    )
    idempotency.begin(directory, account.id, "first", b"digest")
    w = worker(directory)
    try:
        w.step()  # the first iteration purges: nothing has expired yet
        assert count(directory, tables.idempotency_keys) == 1
        clock.advance(120)
        idempotency.begin(directory, account.id, "second", b"digest")  # expires at 180 s
        w.step()  # "first" expired at 60 s, but the next purge is due at 600 s
        assert count(directory, tables.idempotency_keys) == 2
        clock.advance(480)
        idempotency.begin(directory, account.id, "third", b"digest")  # expires at 660 s
        w.step()
        assert count(directory, tables.idempotency_keys) == 1  # only "third" is left
    finally:
        w.close()
