"""Guardrails on agent-sourced spending, per API key: agent calls allowed or not, and credit ceilings per call and
per UTC day. Pure rules; ``services/unlocks.submit`` applies them inside the submission's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from contactvault.server.domain.errors import AgentLimitExceeded, AgentNotAllowed

AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Guardrails:
    """A key's guardrails; a ceiling of None means none. Keys without a row have ``OPEN``."""

    agent_allowed: bool = True
    agent_max_per_call: int | None = None
    agent_max_per_day: int | None = None

    @property
    def limits_spending(self) -> bool:
        """Whether a submission must count the day's agent spending to be checked."""
        return self.agent_max_per_day is not None


OPEN = Guardrails()


def day_start(now: datetime) -> datetime:
    """The start of ``now``'s UTC day: the per-day ceiling counts from here."""
    moment = now.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def require_agent_allowed(rails: Guardrails) -> None:
    """Raise unless agent calls are allowed for the key."""
    if not rails.agent_allowed:
        raise AgentNotAllowed()


def check_agent_spend(rails: Guardrails, credits: int, spent_today: int) -> None:
    """Raise unless an agent may hold ``credits`` more now, having ``spent_today`` (charged or still held)."""
    require_agent_allowed(rails)
    if rails.agent_max_per_call is not None and credits > rails.agent_max_per_call:
        raise AgentLimitExceeded("agent_max_per_call", rails.agent_max_per_call, credits, None)
    if rails.agent_max_per_day is not None and spent_today + credits > rails.agent_max_per_day:
        raise AgentLimitExceeded("agent_max_per_day", rails.agent_max_per_day, credits, spent_today)
