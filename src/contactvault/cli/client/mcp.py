"""``contactvault mcp``: serve the MCP tools over stdio for a desktop assistant, with the CLI's key and server."""

from __future__ import annotations

from contactvault.cli.client.common import ApiKeyOpt, BaseUrlOpt, InsecureOpt, connect


def mcp(base_url: BaseUrlOpt = None, api_key: ApiKeyOpt = None, insecure: InsecureOpt = False) -> None:
    """Serve the MCP tools on stdin/stdout for a desktop assistant (Claude Desktop, an IDE), talking to your
    server with the key from `contactvault login` (or --api-key / CONTACTVAULT_API_KEY).

    Spending goes quote -> confirm: a quote holds nothing; confirming spends exactly what it showed. Every
    submission is sent as an agent's (x-call-source: agent), so the key's guardrails apply. See docs/agents.md.
    """
    from contactvault.agents.stdio import serve
    from contactvault.client import AsyncClient

    checked = connect(base_url, api_key, insecure=insecure)  # the CLI's checks and messages, before stdio starts
    checked.close()
    serve(AsyncClient(api_key=api_key, base_url=base_url, allow_insecure=insecure, call_source="agent"))
