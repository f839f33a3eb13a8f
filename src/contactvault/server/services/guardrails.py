"""Per-key guardrails on agent-sourced spending: set by an operator, read by the MCP server, applied by
``unlocks.submit`` (one rule for MCP calls and API submissions sent with ``x-call-source: agent``)."""

from __future__ import annotations

from contactvault.server.db import guardrails as stored
from contactvault.server.domain.errors import InvalidRequest, NotFound
from contactvault.server.domain.guardrails import Guardrails
from contactvault.server.runtime import Runtime


def of_key(rt: Runtime, key_id: str) -> Guardrails:
    """The key's guardrails (open when none are set)."""
    with rt.db.read() as conn:
        return stored.of_key(conn, key_id)


def set_for_key(rt: Runtime, key_id: str, rails: Guardrails) -> Guardrails:
    """Set the key's guardrails; NotFound for an unknown key, InvalidRequest naming a negative ceiling."""
    for field, value in (
        ("agent_max_per_call", rails.agent_max_per_call),
        ("agent_max_per_day", rails.agent_max_per_day),
    ):
        if value is not None and value < 0:
            raise InvalidRequest(f"{field} must be 0 or more credits.", {"field": field})
    with rt.db.write() as conn:
        if not stored.key_exists(conn, key_id):
            raise NotFound("API key not found.")
        stored.store(conn, key_id, rails, rt.clock.now())
    return rails
