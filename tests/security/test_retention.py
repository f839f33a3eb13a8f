"""Retention: revealed values older than the configured number of days are purged; the rows stay."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from contactvault.cli.main import app as cli
from contactvault.server.clock import FakeClock
from contactvault.server.db.tables import audit_log, unlocks
from contactvault.server.runtime import Runtime
from contactvault.server.services import retention
from tests.engine import drain, submit
from tests.factories import Account


def values(rt: Runtime) -> dict[int, bool]:
    """Person id -> whether the unlock still holds a value."""
    with rt.db.read() as conn:
        return {r.personnel_id: r.value_encrypted is not None for r in conn.execute(select(unlocks))}


def test_values_older_than_the_retention_are_purged(
    directory: Runtime, client: TestClient, account: Account, clock: FakeClock
) -> None:
    submit(directory, account, [1, 2])
    drain(directory)
    clock.advance(10 * 86400)
    submit(directory, account, [3])
    drain(directory)
    clock.advance(25 * 86400)  # the first two are 35 days old, the third 25
    assert retention.purge_unlock_values(directory, 0).purged == 0  # 0 keeps everything
    report = retention.purge_unlock_values(directory, 30, batch_size=1)
    assert (report.purged, report.accounts, report.retention_days) == (2, 1, 30)
    assert values(directory) == {1: False, 2: False, 3: True}
    assert retention.purge_unlock_values(directory, 30).purged == 0
    seen = client.get("/external/personnel/profile", params={"personnel_id": "1"}, headers=account.headers).json()
    assert seen["email"] is None
    with directory.db.read() as conn:
        purges = conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "unlock.purge")).all()
    assert sum(json.loads(d)["values"] for (d,) in purges) == 2


def test_the_setting_is_the_default_and_the_cli_applies_it(
    directory: Runtime, account: Account, clock: FakeClock, database_url: str
) -> None:
    submit(directory, account, [1])
    drain(directory)
    directory.settings = directory.settings.model_copy(update={"unlock_retention_days": 1})
    assert retention.purge_unlock_values(directory).purged == 0  # younger than a day
    env = {
        "CONTACTVAULT_ENCRYPTION_KEY_FILE": str(directory.settings.encryption_key_file),
        "CONTACTVAULT_UNLOCK_RETENTION_DAYS": "0",
    }
    kept = CliRunner().invoke(cli, ["admin", "purge-retention", "--db", database_url], env=env)
    assert json.loads(kept.stdout) == {"retentionDays": 0, "cutoff": None, "purged": 0, "accounts": 0}
    # The CLI runs on the real clock, long after the fake clock's 2026-01-01.
    purged = CliRunner().invoke(cli, ["admin", "purge-retention", "--days", "1", "--db", database_url], env=env)
    assert purged.exit_code == 0, purged.output
    assert json.loads(purged.stdout)["purged"] == 1
    assert values(directory) == {1: False}


def test_audit_rows_older_than_their_retention_are_purged_in_batches(
    directory: Runtime, account: Account, clock: FakeClock
) -> None:
    def audit_times() -> list[object]:
        with directory.db.read() as conn:
            return list(conn.execute(select(audit_log.c.created_at).order_by(audit_log.c.id)).scalars())

    assert retention.purge_audit_rows(directory) == 0  # the default keeps audit rows forever
    old = len(audit_times())
    assert old >= 3  # the account, its key, its grant
    clock.advance(40 * 86400)
    submit(directory, account, [1])  # a newer audit row
    directory.settings = directory.settings.model_copy(update={"audit_retention_days": 30})
    assert retention.purge_audit_rows(directory, batch_size=2) == old
    assert audit_times() == [clock.now()]
