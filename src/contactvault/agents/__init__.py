"""The MCP tool surface for AI agents, shared by both transports: ``tools`` (names, schemas, descriptions) over an
``Agent`` (what a tool does for one caller). The server's ``/mcp`` runs them over the services
(``server/mcp/agent.LocalAgent``); ``contactvault mcp`` over stdio runs them through the SDK against a remote
server (``remote.RemoteAgent``). Nothing here imports the server."""
