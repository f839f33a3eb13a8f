"""The MCP tests' server: the real app (API, /mcp and an in-process worker) served by uvicorn on 127.0.0.1 over the
test directory, on each backend; and a helper that drives it with the official MCP client."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from contactvault.server.api.app import create_app
from contactvault.server.runtime import Runtime
from tests.factories import Account

DEADLINE_SECONDS = 20.0


@dataclass(frozen=True)
class Served:
    """A running server: its base URL and the runtime under it."""

    url: str
    rt: Runtime
    app: FastAPI

    @property
    def mcp_url(self) -> str:
        """The MCP endpoint."""
        return self.url + "/mcp"


@pytest.fixture
def served(directory: Runtime) -> Iterator[Served]:
    """The app with its worker thread, on a free loopback port."""
    directory.settings.rate_limit_per_key = 0
    directory.settings.rate_limit_per_ip = 0
    app = create_app(runtime=directory, run_worker=True)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", ws="none"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="mcp-test-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)  # uvicorn's start flag has no event to wait on: polled, with a deadline
        host, port = sock.getsockname()
        yield Served(f"http://{host}:{port}", directory, app)
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE_SECONDS)
        sock.close()


class Agent:
    """An MCP client session with helpers: ``call`` returns the structured result and fails on a tool error,
    ``refused`` the structured error of a refused call."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session

    async def raw(self, tool: str, **arguments: Any) -> CallToolResult:
        """The tool's result as sent."""
        return await self.session.call_tool(tool, arguments)

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """The structured result of a call that must succeed."""
        result = await self.raw(tool, **arguments)
        assert not result.isError, result.content
        assert result.structuredContent is not None
        text = result.content[0]
        assert text.type == "text"
        assert json.loads(text.text) == result.structuredContent
        return result.structuredContent

    async def refused(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """The structured error of a call that must be refused (a tool error, not a protocol error)."""
        result = await self.raw(tool, **arguments)
        assert result.isError, result.structuredContent
        assert result.structuredContent is not None
        return result.structuredContent


@asynccontextmanager
async def http_agent(served: Served, account: Account) -> AsyncIterator[Agent]:
    """An initialised MCP session over Streamable HTTP with the account's key."""
    async with (
        httpx.AsyncClient(headers=account.headers, timeout=DEADLINE_SECONDS) as http,
        streamable_http_client(served.mcp_url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield Agent(session)
