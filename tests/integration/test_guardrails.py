"""Per-key guardrails on agent-sourced spending: the admin command, the API's ``x-call-source: agent`` submissions,
and two concurrent agent submissions that cannot both pass the daily ceiling (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from contactvault.cli.main import app as cli
from contactvault.server.domain.errors import AgentLimitExceeded
from contactvault.server.domain.guardrails import Guardrails
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import guardrails, unlocks
from tests.engine import assert_reconciles, balance
from tests.factories import BIG_EVENT, Account

EMAIL = 15


def _agent_request(account: Account, ids: list[str]) -> unlocks.UnlockRequest:
    return unlocks.UnlockRequest(
        account.id, Channel.EMAIL, str(BIG_EVENT), ids, call_source="agent", key_id=account.key_id
    )


def test_the_admin_command_sets_a_keys_guardrails(directory: Runtime, account: Account, database_url: str) -> None:
    env = {"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(directory.settings.encryption_key_file)}
    args = ["admin", "key", "guardrails", account.key_id, "--agent", "on", "--agent-max-per-day", "100"]
    result = CliRunner().invoke(cli, [*args, "--db", database_url], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["agentMaxPerDay"] == 100
    assert guardrails.of_key(directory, account.key_id) == Guardrails(True, None, 100)
    off = ["admin", "key", "guardrails", account.key_id, "--agent", "off", "--db", database_url]
    assert CliRunner().invoke(cli, off, env=env).exit_code == 0
    assert guardrails.of_key(directory, account.key_id) == Guardrails(False, None, 100)  # the day limit is kept
    bad = CliRunner().invoke(cli, [*args[:4], "--agent-max-per-call", "lots", "--db", database_url], env=env)
    assert bad.exit_code == 2
    assert "--agent-max-per-call" in bad.output


def test_an_api_submission_sent_as_agent_obeys_the_keys_guardrails(client: TestClient, account: Account) -> None:
    guardrails.set_for_key(client.app.state.runtime, account.key_id, Guardrails(True, 30, None))  # type: ignore[attr-defined]
    body = {"event_id": str(BIG_EVENT), "personnel_ids": ["11", "13", "15"]}
    agent = client.post("/external/contacts/unlock", json=body, headers={**account.headers, "x-call-source": "agent"})
    assert agent.status_code == 403
    assert agent.json()["errorKey"] == "AGENT_LIMIT_EXCEEDED"
    assert "agent_max_per_call" in agent.json()["message"]
    assert agent.json()["details"] == {"limit": "agent_max_per_call", "ceiling": 30, "requested": 45}
    plain = client.post("/external/contacts/unlock", json=body, headers=account.headers)
    assert plain.status_code == 201  # the guardrails bind agent-sourced spending only


def test_agent_calls_off_refuses_an_agent_submission(directory: Runtime, account: Account) -> None:
    guardrails.set_for_key(directory, account.key_id, Guardrails(False, None, None))
    with pytest.raises(Exception, match="turned off") as refused:
        unlocks.submit(directory, _agent_request(account, ["11"]))
    assert getattr(refused.value, "error_key", None) == "AGENT_NOT_ALLOWED"


def test_two_concurrent_agent_submissions_cannot_both_pass_the_daily_ceiling(
    directory: Runtime, account: Account
) -> None:
    guardrails.set_for_key(directory, account.key_id, Guardrails(True, None, 3 * EMAIL))
    before = balance(directory, account)
    start = threading.Barrier(2)

    def submit(ids: list[str]) -> str:
        start.wait(timeout=10)
        try:
            unlocks.submit(directory, _agent_request(account, ids))
        except AgentLimitExceeded as refused:
            return refused.limit
        return "accepted"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(submit, [["11", "13", "15"], ["17", "19", "21"]]))
    assert outcomes == ["accepted", "agent_max_per_day"]
    assert balance(directory, account) == before - 3 * EMAIL
    assert_reconciles(directory)
