"""The MCP tools and resources: names, JSON schemas and descriptions written for a model, over an ``Agent``.

Each tool finds its caller's ``Agent`` (``agent_of``: per request on HTTP, one per process on stdio) and answers a
``CallToolResult``: the body as JSON text and as structured content, or a refusal (``isError``) whose text is one
readable sentence followed by the details as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, Literal, Protocol

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ResourceError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

Ctx = Context[Any, Any, Any]
Json = dict[str, Any]
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


class Refusal(Exception):
    """A refusal the model can act on: one sentence, and structured details (error key, limits, a fresh quote)."""

    def __init__(self, message: str, details: Json) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFoundRefusal(Refusal):
    """The object does not exist for this caller."""


class Agent(Protocol):
    """What the tools do for one caller; every method answers the API's JSON shapes or raises ``Refusal``."""

    async def check(self) -> None: ...
    async def search_events(
        self, page: int, size: int, keyword: str | None, country: str | None, start: date | None, end: date | None
    ) -> Json: ...
    async def list_event_people(
        self, event_id: str, page: int, size: int, department: str | None, level: str | None, search: str | None
    ) -> Json: ...
    async def find_contacts(
        self, page: int, size: int, company_name: str, role: str | None, person_name: str | None
    ) -> Json: ...
    async def get_person(self, person_id: str) -> Json: ...
    async def get_balance(self) -> Json: ...
    async def list_unlocked(self, page: int, size: int) -> Json: ...
    async def quote_unlock(self, channel: str, event_id: str, personnel_ids: list[str]) -> Json: ...
    async def confirm_unlock(self, quote_id: str) -> Json: ...
    async def get_task(self, task_id: str, wait_seconds: int) -> Json: ...


AgentOf = Callable[[Ctx], Agent]


def refusal_result(refused: Refusal) -> CallToolResult:
    """The tool result of a refusal."""
    structured = {"error": refused.message, **refused.details}
    text = f"{refused.message}\n{json.dumps(structured, sort_keys=True)}"
    return CallToolResult(content=[TextContent(type="text", text=text)], structuredContent=structured, isError=True)


async def _answer(agent: Agent, work: Callable[[Agent], Awaitable[Json]]) -> CallToolResult:
    try:
        await agent.check()  # every tool, not only spending: a key closed to agents is closed
        body = await work(agent)
    except Refusal as refused:
        return refusal_result(refused)
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(body))], structuredContent=body)


def build_server(agent_of: AgentOf, **transport: Any) -> FastMCP:
    """A FastMCP server with every tool and the task resource; ``transport``: FastMCP's transport settings."""
    server = FastMCP("contactvault", instructions=INSTRUCTIONS, **transport)
    register(server, agent_of)
    return server


def register(server: FastMCP, agent_of: AgentOf) -> None:
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
        return await _answer(
            agent_of(ctx), lambda a: a.search_events(page, page_size, keyword, country, date_from, date_to)
        )

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
        return await _answer(
            agent_of(ctx),
            lambda a: a.list_event_people(event_id, page, page_size, department, seniority_level, search),
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
        return await _answer(agent_of(ctx), lambda a: a.find_contacts(page, page_size, company_name, role, person_name))

    @server.tool(annotations=READ_ONLY)
    async def get_person(ctx: Ctx, person_id: Id) -> CallToolResult:
        """One person's profile, and their email/phone if you have unlocked them. Free."""
        return await _answer(agent_of(ctx), lambda a: a.get_person(person_id))

    @server.tool(annotations=READ_ONLY)
    async def get_balance(ctx: Ctx) -> CallToolResult:
        """Your credit balance (totalBalance is what you can spend now). Free."""
        return await _answer(agent_of(ctx), lambda a: a.get_balance())

    @server.tool(annotations=READ_ONLY)
    async def list_unlocked_contacts(ctx: Ctx, page: Page = 1, page_size: PageSize = 20) -> CallToolResult:
        """Everything you have already unlocked (person, channel, value, when). Free; never charged again."""
        return await _answer(agent_of(ctx), lambda a: a.list_unlocked(page, page_size))

    _register_spending(server, agent_of)


def _register_spending(server: FastMCP, agent_of: AgentOf) -> None:
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
        return await _answer(agent_of(ctx), lambda a: a.quote_unlock(channel, event_id, personnel_ids))

    @server.tool(annotations=SPENDS)
    async def confirm_unlock(ctx: Ctx, quote_id: Id) -> CallToolResult:
        """Spend the credits of a quote and start the unlock task. Confirming the same quote again returns the
        same task and never charges twice. If the quote expired or the price changed, nothing is charged and the
        error carries a fresh quote to show the user. Then call get_unlock_task with the task id."""
        return await _answer(agent_of(ctx), lambda a: a.confirm_unlock(quote_id))

    @server.tool(annotations=READ_ONLY)
    async def get_unlock_task(
        ctx: Ctx,
        task_id: Id,
        wait_seconds: Annotated[int, Field(ge=0, le=60, description="Wait up to N seconds for it to finish.")] = 0,
    ) -> CallToolResult:
        """An unlock task's status and per-person results (email or phone once unlocked). With wait_seconds it
        answers as soon as the task completes, or after that many seconds with its current state."""
        return await _answer(agent_of(ctx), lambda a: a.get_task(task_id, wait_seconds))

    @server.resource(
        "contactvault://tasks/{task_id}",
        name="unlock_task",
        description="An unlock task's status and results (JSON), yours only.",
        mime_type="application/json",
    )
    async def task_resource(task_id: str) -> str:
        agent = agent_of(server.get_context())
        try:
            await agent.check()
            return json.dumps(await agent.get_task(task_id, 0))
        except Refusal as refused:
            raise ResourceError(refused.message) from None
