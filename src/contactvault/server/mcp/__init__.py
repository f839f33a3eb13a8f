"""The MCP server for AI agents: tools over the same services as the API (never the API over HTTP).

``tools`` names and describes the tools, ``agent`` runs them for one caller over the services, ``http`` serves
them with Streamable HTTP at ``/mcp`` behind the bearer API key (``api/app.create_app`` installs it).
"""
