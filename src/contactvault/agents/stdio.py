"""``contactvault mcp``: the tools over stdio for a desktop assistant, through the SDK against a remote server."""

from __future__ import annotations

from contactvault.agents.remote import RemoteAgent
from contactvault.agents.tools import Agent, Ctx, build_server
from contactvault.client import AsyncClient


def serve(client: AsyncClient) -> None:
    """Serve every tool on stdin/stdout until the assistant closes them (nothing else may write to stdout)."""
    agent = RemoteAgent(client)

    def agent_of(ctx: Ctx) -> Agent:
        return agent

    build_server(agent_of, log_level="WARNING").run("stdio")
