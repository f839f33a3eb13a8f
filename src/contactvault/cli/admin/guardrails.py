"""``contactvault admin key guardrails``: per-key guardrails on agent-sourced spending."""

from __future__ import annotations

from typing import Annotated

import typer

from contactvault.cli.admin.common import DbOption, admin_runtime, domain_errors
from contactvault.cli.common import EXIT_USAGE, emit, fail

NONE = "none"


def _ceiling(raw: str | None, field: str, current: int | None) -> int | None:
    """A ceiling option: digits, ``none`` to remove it, or absent to keep the current one."""
    if raw is None:
        return current
    if raw.lower() == NONE:
        return None
    if not (raw.isascii() and raw.isdigit() and int(raw) < 2**63):
        fail(f"{field} must be a number of credits or 'none', got {raw!r}", EXIT_USAGE)
    return int(raw)


def register(key_app: typer.Typer) -> None:
    """Add ``key guardrails`` to the ``key`` group."""

    @key_app.command("guardrails")
    def key_guardrails(
        key_id: Annotated[str, typer.Argument(help="The key id (8 hex characters).")],
        agent: Annotated[str | None, typer.Option("--agent", help="Allow agent calls: on or off.")] = None,
        agent_max_per_call: Annotated[
            str | None, typer.Option(help="Most credits one agent submission may hold ('none': no limit).")
        ] = None,
        agent_max_per_day: Annotated[
            str | None, typer.Option(help="Most credits agents may spend per UTC day ('none': no limit).")
        ] = None,
        db: DbOption = None,
    ) -> None:
        """Set a key's guardrails for agent-sourced spending (MCP calls and `x-call-source: agent`); options
        left out keep their current value; prints the result."""
        from contactvault.server.domain.guardrails import Guardrails
        from contactvault.server.services import guardrails

        if agent is not None and agent.lower() not in ("on", "off"):
            fail(f"--agent must be on or off, got {agent!r}", EXIT_USAGE)
        with admin_runtime(db) as rt, domain_errors():
            current = guardrails.of_key(rt, key_id)
            wanted = Guardrails(
                current.agent_allowed if agent is None else agent.lower() == "on",
                _ceiling(agent_max_per_call, "--agent-max-per-call", current.agent_max_per_call),
                _ceiling(agent_max_per_day, "--agent-max-per-day", current.agent_max_per_day),
            )
            guardrails.set_for_key(rt, key_id, wanted)  # NotFound for an unknown key
        emit(
            {
                "keyId": key_id,
                "agent": "on" if wanted.agent_allowed else "off",
                "agentMaxPerCall": wanted.agent_max_per_call,
                "agentMaxPerDay": wanted.agent_max_per_day,
            }
        )
