"""The resolution step reads suppressions once per batch; the write that records the answers checks them again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from contactvault.server.db.queue import claim
from contactvault.server.runtime import Runtime
from contactvault.server.services import suppressions
from contactvault.server.worker.pipeline import ResolverChain
from contactvault.server.worker.resolvers.base import Lookup
from contactvault.server.worker.resolvers.vault import VaultResolver
from tests.engine import submit
from tests.factories import Account, email_of


class CountingReads:
    """The runtime's database, counting the read transactions the chain opens."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.reads = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[Any]:
        self.reads += 1
        with self.db.read() as conn:
            yield conn


def test_a_batch_with_a_suppressed_address_is_resolved_in_one_read(directory: Runtime, account: Account) -> None:
    suppressions.suppress(directory, "email", email_of(2))
    submit(directory, account, [1, 2])
    with directory.db.write() as conn:
        items = claim(conn, "w#1", directory.clock.now(), timedelta(seconds=30), 10)
    counting = CountingReads(directory.db)
    chain = ResolverChain(counting, directory.cipher, [VaultResolver(directory.db)], 4)  # type: ignore[arg-type]
    answers = asyncio.run(chain.resolve([Lookup(i.id, i.personnel_id, i.channel) for i in items]))
    assert counting.reads == 1  # the value-hash check belongs to the recording write, which re-checks everything
    assert len(answers) == 2
