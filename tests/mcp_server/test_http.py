"""The MCP server over Streamable HTTP, driven by the official MCP client against a real server on loopback."""

from __future__ import annotations

import anyio
import httpx
import jsonschema  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from contactvault.server.api.app import create_app
from contactvault.server.db.tables import tasks
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import unlocks
from tests.engine import assert_reconciles, balance
from tests.factories import BIG_EVENT, Account
from tests.mcp_server.conftest import Served, http_agent

TOOLS = {
    "search_events",
    "list_event_people",
    "find_contacts",
    "get_person",
    "quote_unlock",
    "confirm_unlock",
    "get_unlock_task",
    "get_balance",
    "list_unlocked_contacts",
}
EMAIL = 15
PEOPLE = ["11", "13", "15"]  # each has an email in the vault (every 10th has none)


def test_tools_are_listed_with_valid_schemas(served: Served, account: Account) -> None:
    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            listed = (await agent.session.list_tools()).tools
            assert {t.name for t in listed} == TOOLS
            for tool in listed:
                jsonschema.Draft202012Validator.check_schema(tool.inputSchema)
                assert tool.description
                assert len(tool.description) > 40
            quote = next(t for t in listed if t.name == "quote_unlock")
            assert quote.inputSchema["required"] == ["event_id", "personnel_ids"]
            assert quote.inputSchema["properties"]["channel"]["enum"] == ["email", "phone"]
            templates = (await agent.session.list_resource_templates()).resourceTemplates
            assert [t.uriTemplate for t in templates] == ["contactvault://tasks/{task_id}"]

    anyio.run(scenario)


def test_a_request_without_a_valid_key_is_401(served: Served) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer cv_nope"}):
        reply = httpx.post(served.mcp_url, json=body, headers={**headers, **auth})
        assert reply.status_code == 401
        assert reply.json()["errorKey"] == "INVALID_API_KEY"
        assert reply.headers["www-authenticate"].startswith("Bearer")


def test_quote_confirm_wait_results_moves_the_balance_by_the_charge(served: Served, account: Account) -> None:
    rt = served.rt

    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            before = (await agent.call("get_balance"))["totalBalance"]
            quote = await agent.call("quote_unlock", event_id=str(BIG_EVENT), personnel_ids=PEOPLE)
            assert quote["allowed"]
            assert quote["credits"] == EMAIL * 3
            assert quote["balance_after"] == before - EMAIL * 3
            assert [p["personnel_id"] for p in quote["people"]] == PEOPLE
            assert quote["expires_at"].endswith("Z")
            assert balance(rt, account) == before  # a quote holds nothing
            task = await agent.call("confirm_unlock", quote_id=quote["quote_id"])
            done = await agent.call("get_unlock_task", task_id=task["task_id"], wait_seconds=15)
            assert done["taskStatus"] == "completed"
            assert [i["status"] for i in done["items"]] == ["unlocked"] * 3
            assert done["creditsCharged"] == EMAIL * 3
            after = (await agent.call("get_balance"))["totalBalance"]
            assert after == before - done["creditsCharged"]
            unlocked = await agent.call("list_unlocked_contacts")
            assert sorted(u["personnelId"] for u in unlocked["items"]) == PEOPLE
            resource = await agent.session.read_resource(f"contactvault://tasks/{task['task_id']}")  # type: ignore[arg-type]
            assert '"taskStatus": "completed"' in resource.contents[0].text  # type: ignore[union-attr]
            with rt.db.read() as conn:
                source = conn.execute(select(tasks.c.call_source).where(tasks.c.id == int(task["task_id"])))
                assert source.scalar_one() == "agent"  # every spend through MCP is the agent's

    anyio.run(scenario)
    assert_reconciles(rt)


def test_the_same_quote_confirmed_twice_charges_once(served: Served, account: Account) -> None:
    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            before = (await agent.call("get_balance"))["totalBalance"]
            quote = await agent.call("quote_unlock", event_id=str(BIG_EVENT), personnel_ids=PEOPLE)
            first = await agent.call("confirm_unlock", quote_id=quote["quote_id"])
            second = await agent.call("confirm_unlock", quote_id=quote["quote_id"])
            assert second["task_id"] == first["task_id"]
            await agent.call("get_unlock_task", task_id=first["task_id"], wait_seconds=15)
            assert (await agent.call("get_balance"))["totalBalance"] == before - EMAIL * 3

    anyio.run(scenario)


def test_a_phone_quote_is_confirmed_by_its_id_alone_on_its_own_channel(served: Served, account: Account) -> None:
    rt = served.rt

    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            before = (await agent.call("get_balance"))["totalBalance"]
            quote = await agent.call("quote_unlock", channel="phone", event_id=str(BIG_EVENT), personnel_ids=PEOPLE)
            assert quote["allowed"]
            task = await agent.call("confirm_unlock", quote_id=quote["quote_id"])
            assert task["channel"] == "phone"
            with rt.db.read() as conn:
                row = conn.execute(
                    select(tasks.c.channel, tasks.c.credits_held).where(tasks.c.id == int(task["task_id"]))
                )
                assert tuple(row.one()) == ("phone", quote["credits"])
            again = await agent.call("confirm_unlock", quote_id=quote["quote_id"])
            assert again["task_id"] == task["task_id"]
            done = await agent.call("get_unlock_task", task_id=task["task_id"], wait_seconds=15)
            assert done["taskStatus"] == "completed"
            assert (await agent.call("get_balance"))["totalBalance"] == before - done["creditsCharged"]

    anyio.run(scenario)
    assert_reconciles(rt)


def test_an_expired_quote_is_refused_with_a_fresh_quote_and_spends_nothing(served: Served, account: Account) -> None:
    rt = served.rt

    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            quote = await agent.call("quote_unlock", event_id=str(BIG_EVENT), personnel_ids=PEOPLE)
            rt.clock.advance(rt.settings.quote_ttl_seconds + 1)  # type: ignore[attr-defined]
            before = balance(rt, account)
            refused = await agent.refused("confirm_unlock", quote_id=quote["quote_id"])
            assert "expired" in refused["error"]
            assert "nothing was charged" in refused["error"]
            fresh = refused["fresh_quote"]
            assert fresh["allowed"]
            assert fresh["quote_id"] != quote["quote_id"]
            assert fresh["credits"] == EMAIL * 3
            assert balance(rt, account) == before
            task = await agent.call("confirm_unlock", quote_id=fresh["quote_id"])  # the fresh one goes through
            assert task["task_id"]

    anyio.run(scenario)


def test_a_changed_price_is_refused_with_a_fresh_quote_and_spends_nothing(served: Served, account: Account) -> None:
    rt = served.rt

    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            quote = await agent.call("quote_unlock", event_id=str(BIG_EVENT), personnel_ids=PEOPLE)
            # Meanwhile the account unlocks one of them another way: the quote's price no longer holds.
            req = unlocks.UnlockRequest(account.id, Channel.EMAIL, str(BIG_EVENT), ["11"])
            await anyio.to_thread.run_sync(unlocks.submit, rt, req)
            before = balance(rt, account)
            refused = await agent.refused("confirm_unlock", quote_id=quote["quote_id"])
            assert "price changed" in refused["error"]
            assert refused["refused"]["details"]["quoted"] == EMAIL * 3
            assert refused["refused"]["details"]["now"] == EMAIL * 2
            assert refused["fresh_quote"]["credits"] == EMAIL * 2
            assert balance(rt, account) == before

    anyio.run(scenario)


def test_another_accounts_task_and_quote_are_invisible(
    served: Served, account: Account, other_account: Account
) -> None:
    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            quote = await agent.call("quote_unlock", event_id=str(BIG_EVENT), personnel_ids=PEOPLE)
            task = await agent.call("confirm_unlock", quote_id=quote["quote_id"])
        async with http_agent(served, other_account) as other:
            seen = await other.refused("get_unlock_task", task_id=task["task_id"])
            assert seen["error_key"] == "NOT_FOUND"
            assert (await other.refused("confirm_unlock", quote_id=quote["quote_id"]))["error_key"] == "NOT_FOUND"
            assert "items" not in seen

    anyio.run(scenario)


@pytest.mark.parametrize("arguments", [{"event_id": "abc", "personnel_ids": ["1"]}, {"event_id": "100"}])
def test_bad_arguments_are_refused_naming_the_field(
    served: Served, account: Account, arguments: dict[str, object]
) -> None:
    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            result = await agent.raw("quote_unlock", **arguments)
            assert result.isError
            text = result.content[0].text  # type: ignore[union-attr]
            assert ("event_id" in text) if arguments["event_id"] == "abc" else ("personnel_ids" in text)

    anyio.run(scenario)


def test_a_quote_confirmed_over_the_api_and_over_mcp_is_one_task(served: Served, account: Account) -> None:
    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            quote = await agent.call("quote_unlock", event_id=str(BIG_EVENT), personnel_ids=PEOPLE)
            body = {"event_id": str(BIG_EVENT), "personnel_ids": PEOPLE, "quote_id": quote["quote_id"]}
            async with httpx.AsyncClient(headers=account.headers) as http:
                over_api = await http.post(served.url + "/external/contacts/unlock", json=body)
            assert over_api.status_code == 201
            over_mcp = await agent.call("confirm_unlock", quote_id=quote["quote_id"])
            assert over_mcp["task_id"] == over_api.json()["task_id"]

    anyio.run(scenario)


def test_a_wait_over_the_keys_long_poll_cap_is_answered_at_once(served: Served, account: Account) -> None:
    app, rt = served.app, served.rt
    app.state.worker.stop()  # nothing settles: the task stays pending
    app.state.worker_thread.join(timeout=20)
    req = unlocks.UnlockRequest(account.id, Channel.EMAIL, str(BIG_EVENT), ["31"])
    task_id = str(unlocks.submit(rt, req).task_id)
    slots = app.state.long_polls
    assert rt.settings.long_poll_max_per_key > 0
    held = 0
    while slots.take(account.key_id) is None:  # every slot of the key is taken by other waits
        held += 1

    async def scenario() -> None:
        async with http_agent(served, account) as agent:
            task = await agent.call("get_unlock_task", task_id=task_id, wait_seconds=60)
            assert task["taskStatus"] == "pending"
            assert task["long_poll"] == "refused-key-cap"

    try:
        anyio.run(scenario)
    finally:
        for _ in range(held):
            slots.give_back(account.key_id)
    assert held == rt.settings.long_poll_max_per_key


def test_mcp_calls_count_against_the_keys_rate_limit(directory: Runtime, account: Account) -> None:
    directory.settings.rate_limit_per_key = 2
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {**account.headers, "Accept": "application/json, text/event-stream"}
    with TestClient(create_app(runtime=directory)) as client:
        assert client.get("/external/credits/balance", headers=account.headers).status_code == 200
        assert client.post("/mcp", json=body, headers=headers).status_code != 429
        limited = client.post("/mcp", json=body, headers=headers)  # the third request of the key in the window
    assert limited.status_code == 429
    assert limited.json()["errorKey"] == "RATE_LIMIT_EXCEEDED"
    assert int(limited.headers["retry-after"]) >= 1
