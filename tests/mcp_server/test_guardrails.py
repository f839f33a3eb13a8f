"""The key's guardrails seen through MCP: refusals are tool errors naming the limit and the numbers."""

from __future__ import annotations

import anyio

from contactvault.server.domain.guardrails import Guardrails
from contactvault.server.services import guardrails
from tests.engine import balance
from tests.factories import BIG_EVENT, Account
from tests.mcp_server.conftest import Served, http_agent

EMAIL = 15


def test_the_daily_ceiling_stops_agent_spending_with_a_clear_tool_error(served: Served, account: Account) -> None:
    rt = served.rt
    guardrails.set_for_key(rt, account.key_id, Guardrails(True, None, 3 * EMAIL))

    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            first = await agent.call("quote_unlock", event_id=str(BIG_EVENT), personnel_ids=["11", "13", "15"])
            await agent.call("confirm_unlock", quote_id=first["quote_id"])
            before = balance(rt, account)
            second = await agent.call("quote_unlock", event_id=str(BIG_EVENT), personnel_ids=["17"])
            refused = await agent.refused("confirm_unlock", quote_id=second["quote_id"])
            assert refused["error_key"] == "AGENT_LIMIT_EXCEEDED"
            assert "agent_max_per_day" in refused["error"]
            assert "45 credits spent by agents today plus 15" in refused["error"]
            assert refused["details"] == {
                "limit": "agent_max_per_day",
                "ceiling": 45,
                "requested": 15,
                "spent_today": 45,
            }
            assert balance(rt, account) == before

    anyio.run(scenario)


def test_agent_calls_off_refuses_every_tool(served: Served, account: Account) -> None:
    guardrails.set_for_key(served.rt, account.key_id, Guardrails(False, None, None))

    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            refused = await agent.refused("get_balance")
            assert refused["error_key"] == "AGENT_NOT_ALLOWED"
            assert "turned off" in refused["error"]

    anyio.run(scenario)
