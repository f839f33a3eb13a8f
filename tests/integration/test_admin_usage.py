"""``contactvault admin usage``: an account's spending by day, task or call source, from its ledger."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from contactvault.cli.main import app as cli
from contactvault.server.clock import FakeClock
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import unlocks
from tests.engine import drain
from tests.factories import BIG_EVENT, Account


def _submit(rt: Runtime, account: Account, ids: list[int], source: str) -> str:
    req = unlocks.UnlockRequest(account.id, Channel.EMAIL, str(BIG_EVENT), [str(i) for i in ids], call_source=source)
    return str(unlocks.submit(rt, req).task_id)


def _usage(rt: Runtime, database_url: str, *args: str) -> Any:
    env = {"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(rt.settings.encryption_key_file)}
    result = CliRunner().invoke(cli, ["admin", "usage", *args, "--db", database_url], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_usage_groups_spending_by_day_task_and_source(
    directory: Runtime, account: Account, other_account: Account, clock: FakeClock, database_url: str
) -> None:
    start = clock.now()
    first = _submit(directory, account, [1, 2, 10], "cli")  # 10 has no email: released
    drain(directory)
    clock.advance(86_400)
    second = _submit(directory, account, [3], "agent")
    _submit(directory, other_account, [4, 5], "api")  # another account's spending is never counted
    drain(directory)
    base = ["--account", str(account.id), "--since", start.date().isoformat(), "--json"]

    by_day = _usage(directory, database_url, *base)
    days = [start.date().isoformat(), clock.now().date().isoformat()]
    assert by_day["rows"] == [
        {"day": days[0], "tasks": 1, "held": 45, "charged": 30, "released": 15},
        {"day": days[1], "tasks": 1, "held": 15, "charged": 15, "released": 0},
    ]
    assert by_day["total"] == {"tasks": 2, "held": 60, "charged": 45, "released": 15}
    by_task = _usage(directory, database_url, *base, "--by", "task")
    assert {r["task"]: r["charged"] for r in by_task["rows"]} == {first: 30, second: 15}
    by_source = _usage(directory, database_url, *base, "--by", "source")
    assert [(r["source"], r["tasks"], r["charged"]) for r in by_source["rows"]] == [("agent", 1, 15), ("cli", 1, 30)]
    later = _usage(directory, database_url, "--account", str(account.id), "--since", days[1], "--json")
    assert later["total"] == {"tasks": 1, "held": 15, "charged": 15, "released": 0}
    table = _usage(directory, database_url, "--account", str(account.id), "--since", days[0], "--by", "source")
    assert "Charged" in table
    assert "agent" in table
    assert "45" in table


def test_usage_refuses_bad_options_naming_them(directory: Runtime, database_url: str) -> None:
    for args, field in (
        (["--account", "abc", "--since", "2026-01-01"], "account"),
        (["--account", "1", "--since", "yesterday"], "since"),
        (["--account", "1", "--since", "2026-01-01", "--by", "week"], "--by"),
    ):
        result = CliRunner().invoke(cli, ["admin", "usage", *args, "--db", database_url])
        assert result.exit_code == 2
        assert field in result.stderr
