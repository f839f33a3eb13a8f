"""``contactvault mcp`` over stdio, spawned as a process by the official MCP client, against a loopback server,
with the key and server from the CLI's config file: the same tools, and the server's own quotes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from contactvault.client.config import save_config
from contactvault.server.domain.guardrails import Guardrails
from contactvault.server.services import guardrails
from tests.engine import assert_reconciles, balance
from tests.factories import BIG_EVENT, Account
from tests.mcp_server.conftest import Agent, Served, http_agent

EMAIL = 15
PEOPLE = ["21", "23", "25"]
CLI = Path(sys.executable).parent / "contactvault"


def _params(served: Served, account: Account, tmp_path: Path) -> StdioServerParameters:
    config = save_config(served.url, account.api_key, tmp_path / "config.toml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTACTVAULT_", "LENSMOR_"))}
    return StdioServerParameters(command=str(CLI), args=["mcp"], env={**env, "CONTACTVAULT_CONFIG": str(config)})


def test_the_stdio_server_quotes_confirms_and_waits_through_the_remote_server(
    served: Served, account: Account, tmp_path: Path
) -> None:
    rt = served.rt
    guardrails.set_for_key(rt, account.key_id, Guardrails(True, None, 4 * EMAIL))

    async def scenario() -> None:
        async with (
            stdio_client(_params(served, account, tmp_path)) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            agent = Agent(session)
            async with http_agent(served, account) as over_http:
                listed = {t.name: t.inputSchema for t in (await session.list_tools()).tools}
                assert listed == {t.name: t.inputSchema for t in (await over_http.session.list_tools()).tools}
            before = balance(rt, account)
            quote = await agent.call("quote_unlock", event_id=str(BIG_EVENT), personnel_ids=PEOPLE)
            assert quote["allowed"]
            assert quote["credits"] == EMAIL * 3
            assert quote["balance_after"] == before - EMAIL * 3
            assert balance(rt, account) == before  # a quote holds nothing
            first = await agent.call("confirm_unlock", quote_id=quote["quote_id"])
            again = await agent.call("confirm_unlock", quote_id=quote["quote_id"])
            assert again["task_id"] == first["task_id"]  # the server's quote is the key: one task
            done = await agent.call("get_unlock_task", task_id=first["task_id"], wait_seconds=15)
            assert done["taskStatus"] == "completed"
            assert done["creditsCharged"] == EMAIL * 3
            assert balance(rt, account) == before - EMAIL * 3
            # An expired quote is refused through the SDK too, with a fresh quote and nothing spent.
            late = await agent.call("quote_unlock", event_id=str(BIG_EVENT), personnel_ids=["33"])
            rt.clock.advance(rt.settings.quote_ttl_seconds + 1)  # type: ignore[attr-defined]
            expired = await agent.refused("confirm_unlock", quote_id=late["quote_id"])
            assert "expired" in expired["error"]
            assert expired["fresh_quote"]["credits"] == EMAIL
            assert balance(rt, account) == before - EMAIL * 3
            # The key's daily ceiling (60) binds the stdio server too: its submissions are the agent's.
            more = await agent.call("quote_unlock", event_id=str(BIG_EVENT), personnel_ids=["27", "29"])
            refused = await agent.refused("confirm_unlock", quote_id=more["quote_id"])
            assert refused["error_key"] == "AGENT_LIMIT_EXCEEDED"
            assert "agent_max_per_day" in refused["error"]
            assert balance(rt, account) == before - EMAIL * 3

    anyio.run(scenario)
    assert_reconciles(rt)
