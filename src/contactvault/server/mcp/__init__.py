"""The MCP server for AI agents: tools over the same services as the API (never the API over HTTP).

The tools themselves (names, schemas, descriptions) are ``contactvault.agents.tools``, shared with the stdio
server; ``agent`` runs them for one caller over the services, ``http`` serves them with Streamable HTTP at
``/mcp`` behind the bearer API key (``api/app.create_app`` installs it).
"""
