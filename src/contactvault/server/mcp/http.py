"""The MCP server's Streamable HTTP transport at ``/mcp`` inside the API's app, behind the bearer API key.

Stateless JSON mode: every POST is a whole exchange, so any API node can answer any call (no session affinity),
like the rest of the API. Authentication is one seam, ``Authenticator``: today ``KeyAuthenticator`` checks the
API key with ``services/accounts.authenticate_key``; an OAuth 2.1 resource server would be another implementation
(verify the access token's signature, issuer, expiry and audience = this server's ``/mcp`` URL, then map its
subject to an account and key) and add ``resource_metadata`` to the 401's ``WWW-Authenticate``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from anyio import to_thread
from fastapi import FastAPI
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.server import StreamableHTTPASGIApp
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from contactvault.agents import tools
from contactvault.agents.tools import Agent, Ctx
from contactvault.server.api.ratelimit import RateLimiter
from contactvault.server.domain.errors import InvalidApiKey
from contactvault.server.mcp.agent import LocalAgent
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts, guardrails
from contactvault.server.services.accounts import Caller

PATH = "/mcp"
AGENT_SCOPE_KEY = "contactvault.agent"
WWW_AUTHENTICATE = b'Bearer realm="contactvault"'


class Authenticator(Protocol):
    """Who is calling, from the ``Authorization`` header; ``InvalidApiKey`` for every failure."""

    def authenticate(self, authorization: str | None) -> Caller: ...


class KeyAuthenticator:
    """The bearer API key, checked like every API request's (and its last use recorded)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def authenticate(self, authorization: str | None) -> Caller:
        """The key's caller, or InvalidApiKey."""
        caller = accounts.authenticate_key(self.rt, authorization)
        accounts.touch_key(self.rt, caller)
        return caller


class AuthenticatedMcp:
    """ASGI: 401 without a valid key; otherwise the caller's ``LocalAgent`` goes on the scope for the tools."""

    def __init__(self, rt: Runtime, auth: Authenticator, inner: StreamableHTTPASGIApp) -> None:
        self.rt, self.auth, self.inner = rt, auth, inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the key, then hand the request to the MCP transport."""
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        try:
            caller = await to_thread.run_sync(self.auth.authenticate, authorization)
        except InvalidApiKey as refused:
            await _refuse(send, 401, "INVALID_API_KEY", refused.message, [(b"www-authenticate", WWW_AUTHENTICATE)])
            return
        state = scope["app"].state if "app" in scope else None
        limiter: RateLimiter | None = getattr(state, "rate_limiter", None)
        quota = await to_thread.run_sync(limiter.hit_key, caller.key_id) if limiter is not None else None
        if quota is not None and not quota.allowed:  # the API's per-key limit: one budget for both surfaces
            message = (
                f"Rate limit of {quota.limit} requests per {quota.window} s exceeded; retry in {quota.retry_after} s."
            )
            await _refuse(
                send, 429, "RATE_LIMIT_EXCEEDED", message, [(b"retry-after", str(quota.retry_after).encode())]
            )
            return
        rails = await to_thread.run_sync(guardrails.of_key, self.rt, caller.key_id)
        slots = getattr(state, "long_polls", None)
        scope[AGENT_SCOPE_KEY] = LocalAgent(self.rt, caller.account_id, caller.key_id, rails, slots)
        await self.inner(scope, receive, send)


async def _refuse(send: Send, status: int, error_key: str, message: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"code": status, "message": message, "errorKey": error_key}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def agent_of(ctx: Ctx) -> Agent:
    """The caller's agent, set on the HTTP request by ``AuthenticatedMcp``."""
    agent = getattr(ctx.request_context.request, "scope", {}).get(AGENT_SCOPE_KEY)
    if not isinstance(agent, LocalAgent):
        raise RuntimeError("no authenticated caller on this request")
    return agent


def build_server() -> FastMCP:
    """The MCP server with every tool and resource, in stateless JSON mode."""
    # The bearer key, not the Host header, is what keeps a rebinding page out: it has no key to send.
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return tools.build_server(agent_of, stateless_http=True, json_response=True, transport_security=security)


def install(app: FastAPI, rt: Runtime) -> StreamableHTTPSessionManager:
    """Serve MCP at ``/mcp``; the returned manager must run for the app's lifetime (``running``)."""
    server = build_server()
    server.streamable_http_app()  # creates the session manager
    manager = server.session_manager
    endpoint = AuthenticatedMcp(rt, KeyAuthenticator(rt), StreamableHTTPASGIApp(manager))
    app.router.routes.append(Route(PATH, endpoint, methods=["GET", "POST", "DELETE"], include_in_schema=False))
    return manager


@asynccontextmanager
async def running(manager: StreamableHTTPSessionManager) -> AsyncIterator[None]:
    """Run the MCP transport's task group while the app serves."""
    async with manager.run():
        yield
