"""Tool errors: a refusal the model can act on, as an MCP tool result with ``isError`` (never a protocol error).

Messages never carry personal data or keys: domain errors' messages are written for callers already.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.types import CallToolResult, TextContent

from contactvault.server.domain.errors import DomainError


class ToolRefusal(Exception):
    """A refusal with structured details (a fresh quote, the limit and the numbers)."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def refusal_result(error: ToolRefusal | DomainError) -> CallToolResult:
    """The tool result for a refusal: the message first, then the details as JSON for the model to read."""
    if isinstance(error, ToolRefusal):
        structured = {"error": error.message, **error.details}
    else:
        structured = {"error": error.message, "error_key": error.error_key, "details": error.details or {}}
    text = f"{structured['error']}\n{json.dumps(structured, sort_keys=True)}"
    return CallToolResult(content=[TextContent(type="text", text=text)], structuredContent=structured, isError=True)
