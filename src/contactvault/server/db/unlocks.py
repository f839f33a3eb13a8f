"""What an account has unlocked, or is unlocking, per person and channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from contactvault.server.db.tables import task_items, unlocks


@dataclass(slots=True)
class ChannelState:
    """One person's state on one channel, for one account."""

    value_encrypted: bytes | None = None
    statuses: set[str] = field(default_factory=set)


def contact_states(
    conn: Connection, account_id: int, person_ids: Sequence[int]
) -> dict[tuple[int, str], ChannelState]:
    """Per (person, channel): the revealed value (sealed) and the statuses of this account's items."""
    states: dict[tuple[int, str], ChannelState] = {}
    if not person_ids:
        return states
    revealed = select(unlocks.c.personnel_id, unlocks.c.channel, unlocks.c.value_encrypted).where(
        unlocks.c.account_id == account_id, unlocks.c.personnel_id.in_(person_ids)
    )
    for pid, channel, value in conn.execute(revealed):
        states.setdefault((pid, channel), ChannelState()).value_encrypted = value
    items = (
        select(task_items.c.personnel_id, task_items.c.channel, task_items.c.status)
        .where(
            task_items.c.account_id == account_id,
            task_items.c.personnel_id.in_(person_ids),
            task_items.c.status.in_(("pending", "processing", "failed")),
        )
        .distinct()
    )
    for pid, channel, status in conn.execute(items):
        states.setdefault((pid, channel), ChannelState()).statuses.add(status)
    return states


def unlocked_ids(conn: Connection, account_id: int, channel: str, person_ids: Sequence[int]) -> set[int]:
    """Which of these people this account has already unlocked on this channel."""
    if not person_ids:
        return set()
    query = select(unlocks.c.personnel_id).where(
        unlocks.c.account_id == account_id,
        unlocks.c.channel == channel,
        unlocks.c.personnel_id.in_(person_ids),
    )
    return {int(pid) for (pid,) in conn.execute(query)}


def in_flight_ids(conn: Connection, account_id: int, channel: str, person_ids: Sequence[int]) -> set[int]:
    """Which of these people are in one of this account's unfinished items on this channel."""
    if not person_ids:
        return set()
    query = select(task_items.c.personnel_id).where(
        task_items.c.account_id == account_id,
        task_items.c.channel == channel,
        task_items.c.status.in_(("pending", "processing")),
        task_items.c.personnel_id.in_(person_ids),
    )
    return {int(pid) for (pid,) in conn.execute(query)}
