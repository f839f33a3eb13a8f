"""The MCP tools and resources: names, JSON schemas and descriptions written for a model.

Each tool reads its caller's ``LocalAgent`` from the request (``http.py`` put it there after checking the key)
and answers a ``CallToolResult``: the body as JSON text and as structured content, or a refusal (``isError``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, Literal

from anyio import to_thread
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ResourceError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from contactvault.server.domain.errors import DomainError, NotFound
from contactvault.server.domain.guardrails import require_agent_allowed
from contactvault.server.domain.ledger import Channel
from contactvault.server.mcp.agent import LocalAgent
from contactvault.server.mcp.errors import ToolRefusal, refusal_result
from contactvault.server.services.directory import PageRequest

AGENT_SCOPE_KEY = "contactvault.agent"
Ctx = Context[Any, Any, Any]
INSTRUCTIONS = (
    "contactvault finds people at events and unlocks their work email (15 credits) or phone (150 credits). "
    "Spending is two steps: quote_unlock prices an unlock and holds nothing; confirm_unlock(quote_id) spends "
    "exactly the quoted credits. Show the quote to the user before confirming. Then get_unlock_task waits for "
    "the results. Ids are digit strings."
)

Page = Annotated[int, Field(ge=1, le=1_000_000, description="1-based page number.")]
PageSize = Annotated[int, Field(ge=1, le=100, description="Items per page (1-100).")]
Text = Annotated[str | None, Field(min_length=1, max_length=200)]
Id = Annotated[str, Field(pattern=r"^[0-9]{1,19}$", description="A digit string id.")]
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
SPENDS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)


def agent_of(ctx: Ctx) -> LocalAgent:
    """The caller's agent, set on the HTTP request by the authentication layer."""
    request = ctx.request_context.request
    agent = getattr(request, "scope", {}).get(AGENT_SCOPE_KEY)
    if not isinstance(agent, LocalAgent):
        raise RuntimeError("no authenticated caller on this request")
    return agent


def _ok(body: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(body))], structuredContent=body)


async def _answer(agent: LocalAgent, work: Callable[[], Awaitable[dict[str, Any]]]) -> CallToolResult:
    try:
        require_agent_allowed(agent.guardrails)  # every tool, not only spending: the key is closed to agents
        return _ok(await work())
    except (DomainError, ToolRefusal) as refused:
        return refusal_result(refused)


async def _sync(ctx: Ctx, call: Callable[[LocalAgent], dict[str, Any]]) -> CallToolResult:
    agent = agent_of(ctx)
    return await _answer(agent, lambda: to_thread.run_sync(call, agent))


def register(server: FastMCP) -> None:
    """Add every tool and the task resource to ``server``."""

    @server.tool(annotations=READ_ONLY)
    async def search_events(
        ctx: Ctx,
        keyword: Annotated[Text, Field(description="Words in the event's name or description.")] = None,
        country: Annotated[Text, Field(description="Country name, exact.")] = None,
        date_from: Annotated[date | None, Field(description="Events starting on or after (YYYY-MM-DD).")] = None,
        date_to: Annotated[date | None, Field(description="Events starting on or before (YYYY-MM-DD).")] = None,
        page: Page = 1,
        page_size: PageSize = 20,
    ) -> CallToolResult:
        """Find events (trade shows, conferences) by keyword, country and dates. Free. Use an event's id with
        list_event_people."""
        pages = PageRequest(page, page_size)
        return await _sync(ctx, lambda a: a.search_events(pages, keyword, country, date_from, date_to))

    @server.tool(annotations=READ_ONLY)
    async def list_event_people(
        ctx: Ctx,
        event_id: Id,
        department: Annotated[Text, Field(description="Department, e.g. 'Sales' or 'Engineering'.")] = None,
        seniority_level: Annotated[Text, Field(description="Seniority, e.g. 'Director' or 'VP'.")] = None,
        search: Annotated[Text, Field(description="Words in the person's name, title or company.")] = None,
        page: Page = 1,
        page_size: PageSize = 20,
    ) -> CallToolResult:
        """List the people at one event, with filters. Free. Each person shows whether their email and phone are
        locked, unlocking or unlocked for you; pass their ids to quote_unlock with this event_id."""
        pages = PageRequest(page, page_size)
        return await _sync(
            ctx, lambda a: a.list_event_people(int(event_id), pages, department, seniority_level, search)
        )

    @server.tool(annotations=READ_ONLY)
    async def find_contacts(
        ctx: Ctx,
        company_name: Annotated[str, Field(min_length=1, max_length=200, description="Company name words.")],
        role: Annotated[Text, Field(description="Words in the job title.")] = None,
        person_name: Annotated[Text, Field(description="Words in the person's name.")] = None,
        page: Page = 1,
        page_size: PageSize = 20,
    ) -> CallToolResult:
        """Find people at a company across all events, optionally by role keyword or name. Free."""
        pages = PageRequest(page, page_size)
        return await _sync(ctx, lambda a: a.find_contacts(pages, company_name, role, person_name))

    @server.tool(annotations=READ_ONLY)
    async def get_person(ctx: Ctx, person_id: Id) -> CallToolResult:
        """One person's profile, and their email/phone if you have unlocked them. Free."""
        return await _sync(ctx, lambda a: a.get_person(int(person_id)))

    @server.tool(annotations=READ_ONLY)
    async def get_balance(ctx: Ctx) -> CallToolResult:
        """Your credit balance (totalBalance is what you can spend now). Free."""
        return await _sync(ctx, lambda a: a.get_balance())

    @server.tool(annotations=READ_ONLY)
    async def list_unlocked_contacts(ctx: Ctx, page: Page = 1, page_size: PageSize = 20) -> CallToolResult:
        """Everything you have already unlocked (person, channel, value, when). Free; never charged again."""
        pages = PageRequest(page, page_size)
        return await _sync(ctx, lambda a: a.list_unlocked(pages))

    _register_spending(server)


def _register_spending(server: FastMCP) -> None:
    @server.tool(annotations=READ_ONLY)
    async def quote_unlock(
        ctx: Ctx,
        event_id: Id,
        personnel_ids: Annotated[list[Id], Field(min_length=1, max_length=100, description="1-100 person ids.")],
        channel: Annotated[Literal["email", "phone"], Field(description="email: 15 credits, phone: 150.")] = "email",
    ) -> CallToolResult:
        """Price unlocking these people's work email or phone at this event. Holds and spends nothing. Returns a
        quote_id (when allowed), each person's line (chargeable or why not), the credits, your balance after,
        and when the quote expires. Show it to the user, then call confirm_unlock(quote_id)."""
        return await _sync(ctx, lambda a: a.quote_unlock(Channel(channel), event_id, personnel_ids))

    @server.tool(annotations=SPENDS)
    async def confirm_unlock(ctx: Ctx, quote_id: Id) -> CallToolResult:
        """Spend the credits of a quote and start the unlock task. Confirming the same quote again returns the
        same task and never charges twice. If the quote expired or the price changed, nothing is charged and the
        error carries a fresh quote to show the user. Then call get_unlock_task with the task id."""
        return await _sync(ctx, lambda a: a.confirm_unlock(quote_id))

    @server.tool(annotations=READ_ONLY)
    async def get_unlock_task(
        ctx: Ctx,
        task_id: Id,
        wait_seconds: Annotated[int, Field(ge=0, le=60, description="Wait up to N seconds for it to finish.")] = 0,
    ) -> CallToolResult:
        """An unlock task's status and per-person results (email or phone once unlocked). With wait_seconds it
        answers as soon as the task completes, or after that many seconds with its current state."""
        agent = agent_of(ctx)
        return await _answer(agent, lambda: agent.get_task(task_id, wait_seconds))

    @server.resource(
        "contactvault://tasks/{task_id}",
        name="unlock_task",
        description="An unlock task's status and results (JSON), yours only.",
        mime_type="application/json",
    )
    async def task_resource(task_id: str) -> str:
        try:
            return json.dumps(await agent_of(server.get_context()).get_task(task_id, 0))
        except NotFound as missing:
            raise ResourceError(missing.message) from None
