"""What an account has unlocked, or is unlocking, per person and channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Connection,
    Select,
    bindparam,
    cast,
    exists,
    func,
    literal,
    null,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from contactvault.server.db.bulk import id_list_value, in_bound_ids, in_ids
from contactvault.server.db.tables import event_personnel, personnel, task_items, tasks, unlocks
from contactvault.server.domain.tasks import UNFINISHED_ITEM_STATUSES, ItemStatus

_UNFINISHED = tuple(s.value for s in UNFINISHED_ITEM_STATUSES)
# The item statuses a contact's unlock state is derived from (besides its unlocks): in flight, or failed.
_SHOWN_STATUSES = (*_UNFINISHED, ItemStatus.FAILED.value)


@dataclass(slots=True)
class ChannelState:
    """One person's state on one channel, for one account."""

    value_encrypted: bytes | None = None
    unlock_id: int | None = None
    # An unlock row exists; its value may have been removed since (erasure, retention).
    unlocked: bool = False
    statuses: set[str] = field(default_factory=set)
    # Where the delivered value came from and how sure we were of it, as the unlock row stored them.
    source: str | None = None
    verification_status: str | None = None
    verification_score: int | None = None
    checked_at: datetime | None = None


def contact_states(conn: Connection, account_id: int, person_ids: Sequence[int]) -> dict[tuple[int, str], ChannelState]:
    """Per (person, channel): the revealed value (sealed) and the statuses of this account's items.

    One statement: this account's unlock rows, then (``UNION ALL``) the distinct statuses of its items in flight
    or failed, with NULL in the columns the other half fills (every listed page runs it: one statement fewer)."""
    states: dict[tuple[int, str], ChannelState] = {}
    if not person_ids:
        return states
    row: Any
    sqlite = conn.dialect.name == "sqlite"
    ids = id_list_value(conn.dialect.name, person_ids) if sqlite else list(person_ids)
    for row in conn.execute(_contact_states(sqlite), {"account_id": account_id, "ids": ids}):
        state = states.setdefault((row.personnel_id, row.channel), ChannelState())
        if row.status is not None:
            state.statuses.add(row.status)
            continue
        state.value_encrypted, state.unlock_id, state.unlocked = row.value_encrypted, int(row.id), True
        state.source, state.verification_status = row.source, row.verification_status
        state.verification_score, state.checked_at = row.verification_score, row.checked_at
    return states


@cache
def _contact_states(sqlite: bool) -> Any:
    """``contact_states``' statement, built once (its construction cost more than running it). On SQLite the ids
    travel as one JSON value (``json_each``): an expanding ``IN`` re-renders the SQL on every call."""
    account: BindParameter[int] = bindparam("account_id")
    ids: BindParameter[Any] = bindparam("ids", expanding=not sqlite)

    def among(target: Any) -> Any:
        return in_bound_ids("sqlite", target, ids) if sqlite else target.in_(ids)

    revealed_only = (
        unlocks.c.id,
        unlocks.c.value_encrypted,
        unlocks.c.source,
        unlocks.c.verification_status,
        unlocks.c.verification_score,
        unlocks.c.checked_at,
    )
    revealed = select(
        unlocks.c.personnel_id,
        unlocks.c.channel,
        *revealed_only,
        cast(null(), task_items.c.status.type).label("status"),
    ).where(unlocks.c.account_id == account, among(unlocks.c.personnel_id))
    items = (
        select(
            task_items.c.personnel_id,
            task_items.c.channel,
            *(cast(null(), c.type) for c in revealed_only),
            task_items.c.status,
        )
        .where(
            task_items.c.account_id == account,
            among(task_items.c.personnel_id),
            task_items.c.status.in_(_SHOWN_STATUSES),
        )
        .distinct()
    )
    return union_all(revealed, items)


def unlocked_ids(conn: Connection, account_id: int, channel: str, person_ids: Sequence[int]) -> set[int]:
    """Which of these people this account has already unlocked on this channel."""
    if not person_ids:
        return set()
    if conn.dialect.name == "postgresql":
        return _unlocked_ids_pg(conn, account_id, channel, person_ids)
    query = select(unlocks.c.personnel_id).where(
        unlocks.c.account_id == account_id,
        unlocks.c.channel == channel,
        unlocks.c.personnel_id.in_(person_ids),
    )
    return {int(pid) for (pid,) in conn.execute(query)}


def _unlocked_ids_pg(conn: Connection, account_id: int, channel: str, person_ids: Sequence[int]) -> set[int]:
    # One unique-index probe per id, whatever the statistics say. With ``personnel_id IN (...)`` or ``= ANY(...)``
    # the planner, trusting the statistics of a young table (or a generic plan once psycopg prepares the
    # statement), may instead read all of the account's unlocks and compare each with every id: 20,000 x 1,000
    # comparisons, 250 ms of the record step. A LATERAL subquery with LIMIT cannot be flattened into that plan.
    wanted = (
        func.unnest(bindparam("u_ids", list(person_ids), type_=ARRAY(BigInteger)))
        .table_valued("id")
        .render_derived(name="w")
    )
    hit = (
        select(literal(1))
        .where(unlocks.c.account_id == account_id, unlocks.c.personnel_id == wanted.c.id, unlocks.c.channel == channel)
        .limit(1)
        .lateral("hit")
    )
    return {int(pid) for (pid,) in conn.execute(select(wanted.c.id).select_from(wanted.join(hit, true())))}


def in_flight_ids(conn: Connection, account_id: int, channel: str, person_ids: Sequence[int]) -> set[int]:
    """Which of these people are in one of this account's unfinished items on this channel."""
    if not person_ids:
        return set()
    query = select(task_items.c.personnel_id).where(
        task_items.c.account_id == account_id,
        task_items.c.channel == channel,
        task_items.c.status.in_(_UNFINISHED),
        task_items.c.personnel_id.in_(person_ids),
    )
    return {int(pid) for (pid,) in conn.execute(query)}


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a set of ids stands for one account, channel and event (what submission classifies by)."""

    known: set[int]
    linked: set[int]
    unlocked: set[int]
    in_flight: set[int]


@cache
def _standing_query(dialect: str) -> Select[Any]:
    # Built once per dialect: this runs on every submission, and building a statement costs more than running it.
    p = personnel.c.id
    account: BindParameter[int] = bindparam("s_account")
    channel: BindParameter[str] = bindparam("s_channel")
    linked = exists().where(event_personnel.c.event_id == bindparam("s_event"), event_personnel.c.personnel_id == p)
    done = exists().where(unlocks.c.account_id == account, unlocks.c.personnel_id == p, unlocks.c.channel == channel)
    busy = exists().where(
        task_items.c.account_id == account,
        task_items.c.personnel_id == p,
        task_items.c.channel == channel,
        task_items.c.status.in_(_UNFINISHED),
    )
    return select(p, linked, done, busy).where(in_bound_ids(dialect, p, bindparam("s_ids")))


def standing(conn: Connection, account_id: int, channel: str, event_id: int, person_ids: Sequence[int]) -> Standing:
    """One query: which ids exist, attend the event, are unlocked by or in flight for this account."""
    result = Standing(set(), set(), set(), set())
    if not person_ids:
        return result
    dialect = conn.dialect.name
    params = {
        "s_account": account_id,
        "s_channel": channel,
        "s_event": event_id,
        "s_ids": id_list_value(dialect, person_ids),
    }
    for pid, is_linked, is_done, is_busy in conn.execute(_standing_query(dialect), params):
        result.known.add(pid)
        if is_linked:
            result.linked.add(pid)
        if is_done:
            result.unlocked.add(pid)
        if is_busy:
            result.in_flight.add(pid)
    return result


def bump_tasks_showing(conn: Connection, person_ids: Sequence[int]) -> None:
    """A new version for every task that shows one of these people as unlocked (their value changed)."""
    if not person_ids:
        return
    showing = select(task_items.c.task_id).where(
        in_ids(conn, task_items.c.personnel_id, person_ids), task_items.c.status == ItemStatus.UNLOCKED.value
    )
    if conn.dialect.name == "postgresql":
        # Lock them in id order first, as the worker does: an UPDATE ... IN (subquery) locks in scan order.
        conn.execute(
            select(tasks.c.id).where(tasks.c.id.in_(showing)).order_by(tasks.c.id).with_for_update(key_share=True)
        ).all()
    conn.execute(update(tasks).where(tasks.c.id.in_(showing)).values(version=tasks.c.version + 1))


@dataclass(frozen=True, slots=True)
class RevealedRow:
    """An unlock that still holds its value: row id, account and person."""

    id: int
    account_id: int
    personnel_id: int


def values_created_before(conn: Connection, cutoff: datetime, limit: int) -> list[RevealedRow]:
    """Up to ``limit`` unlocks created before ``cutoff`` that still hold a value, in id order."""
    query = (
        select(unlocks.c.id, unlocks.c.account_id, unlocks.c.personnel_id)
        .where(unlocks.c.created_at < cutoff, unlocks.c.value_encrypted.is_not(None))
        .order_by(unlocks.c.id)
        .limit(limit)
    )
    return [RevealedRow(int(r.id), int(r.account_id), int(r.personnel_id)) for r in conn.execute(query)]


def remove_values(conn: Connection, unlock_ids: Sequence[int], now: datetime) -> None:
    """Drop the values of these unlocks (the rows stay: the account is never charged for them again)."""
    conn.execute(
        update(unlocks).where(unlocks.c.id.in_(list(unlock_ids))).values(value_encrypted=None, value_removed_at=now)
    )
