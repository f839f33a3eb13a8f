"""``contactvault admin status``: queue depth by state, oldest pending, workers seen, recent outcomes, size."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from contactvault.cli.main import app as cli
from contactvault.server.clock import FakeClock
from contactvault.server.runtime import Runtime
from contactvault.server.services import status
from tests.engine import submit, worker
from tests.factories import Account


def _cli_status(rt: Runtime, database_url: str) -> Any:
    env = {"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(rt.settings.encryption_key_file)}
    result = CliRunner().invoke(cli, ["admin", "status", "--db", database_url], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_status_shows_the_queue_workers_outcomes_and_size(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    empty = status.status(directory)
    assert empty.queue == {"pending": 0, "processing": 0, "unlocked": 0, "failed": 0}
    assert (empty.oldest_pending_seconds, empty.workers, empty.error_rate) == (None, [], None)
    assert empty.database_bytes is not None
    assert empty.database_bytes > 0

    w = worker(directory)
    try:
        submit(directory, account, [1, 2, 10])  # 10 has no email: UNRESOLVED
        while w.step():
            pass
        submit(directory, account, [3, 4])
        clock.advance(30)
        seen = status.status(directory)
        assert seen.queue == {"pending": 2, "processing": 0, "unlocked": 2, "failed": 1}
        assert seen.oldest_pending_seconds == 30
        assert [x.worker_id for x in seen.workers] == [w.worker_id]
        assert (seen.outcomes, seen.error_rate) == ({"unlocked": 2, "UNRESOLVED": 1}, 0.3333)

        clock.advance(5 * 60)  # the worker has not looped for over a minute, and nothing finished lately
        later = status.status(directory)
        assert (later.workers, later.outcomes, later.error_rate) == ([], {}, None)
        w.step()
        back = status.status(directory)
        assert [x.last_loop_at for x in back.workers] == [clock.now()]
        assert back.queue["pending"] == 0
    finally:
        w.close()


def test_the_admin_command_prints_the_status_as_json(directory: Runtime, account: Account, database_url: str) -> None:
    submit(directory, account, [1, 2])
    body = _cli_status(directory, database_url)
    assert body["queue"] == {"pending": 2, "processing": 0, "unlocked": 0, "failed": 0}
    assert body["oldestPendingSeconds"] is not None
    assert set(body) == {
        "at",
        "queue",
        "oldestPendingSeconds",
        "workers",
        "lastFiveMinutes",
        "databaseBytes",
        "housekeeping",
    }
    assert body["housekeeping"] == []  # no job has run on this database yet
    assert body["databaseBytes"] > 0
