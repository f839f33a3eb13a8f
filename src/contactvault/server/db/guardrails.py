"""Per-key guardrails as stored, and the day's agent spending of a key (summed from its agent-sourced tasks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select, update

from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import api_keys, key_guardrails, tasks
from contactvault.server.domain.guardrails import AGENT, OPEN, Guardrails


def of_key(conn: Transaction, key_id: str) -> Guardrails:
    """The key's guardrails (``OPEN`` when none are set)."""
    row = conn.execute(select(key_guardrails).where(key_guardrails.c.key_id == key_id)).first()
    if row is None:
        return OPEN
    return Guardrails(bool(row.agent_allowed), row.agent_max_per_call, row.agent_max_per_day)


def key_exists(conn: Transaction, key_id: str) -> bool:
    """Whether an API key with this id exists (revoked or not)."""
    return conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id)).first() is not None


def store(conn: Transaction, key_id: str, rails: Guardrails, now: datetime) -> None:
    """Set the key's guardrails (replacing any)."""
    conn.execute(delete(key_guardrails).where(key_guardrails.c.key_id == key_id))
    conn.execute(
        insert(key_guardrails).values(
            key_id=key_id,
            agent_allowed=rails.agent_allowed,
            agent_max_per_call=rails.agent_max_per_call,
            agent_max_per_day=rails.agent_max_per_day,
            updated_at=now,
        )
    )


def agent_spent_since(conn: Transaction, key_id: str, since: datetime) -> int:
    """Credits the key's agent-sourced tasks created since ``since`` charged or still hold (released ones are
    not spent). Read after the submission locked its account's buckets, so a concurrent submission of the same
    account has either committed (and is counted) or waits for ours."""
    spent = conn.execute(
        select(func.coalesce(func.sum(tasks.c.credits_held - tasks.c.credits_released), 0)).where(
            tasks.c.key_id == key_id, tasks.c.call_source == AGENT, tasks.c.created_at >= since
        )
    ).scalar_one()
    return int(spent)


def tag_task(conn: Transaction, task_id: int, key_id: str) -> None:
    """Record the key an agent-sourced task was submitted with."""
    conn.execute(update(tasks).where(tasks.c.id == task_id).values(key_id=key_id))
