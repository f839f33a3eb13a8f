"""Directory queries: events, people, companies and the text search behind them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
)

from contactvault.server.db.bulk import id_list_value, in_bound_ids
from contactvault.server.db.tables import companies, event_personnel, events, personnel, unlocks

_TOKEN = re.compile(r"\w+", re.UNICODE)
# Ids are signed 64-bit in every backend; a larger number can match nothing (and would overflow the driver).
_MAX_ID = 2**63 - 1


def tokens(query: str) -> list[str]:
    """The words of a free-text query, lower-cased (punctuation and operators dropped)."""
    return [t.lower() for t in _TOKEN.findall(query)][:16]


def _fts_match(words: Sequence[str]) -> str:
    # Every word must prefix-match; each is quoted so FTS5 syntax in user input is inert.
    return " ".join(f'"{w}"*' for w in words)


def _starts_a_word(column: ColumnElement[Any], word: str) -> ColumnElement[bool]:
    # Without FTS5 (PostgreSQL), match as a prefix query does: ``word`` begins one of the column's words.
    # ``word`` comes from ``tokens`` (only \w characters), so it holds no regular-expression operator.
    # ``lower(column)`` bare, exactly as the pg_trgm GIN indexes of migration 0001 are built, so they serve both
    # tests; the LIKE is implied by the regular expression, but it is far cheaper to evaluate and gives the
    # index plain trigrams to look up, so the expression only runs on rows that contain the word.
    # A NULL column gives NULL, which a WHERE clause treats as no match.
    lowered = func.lower(column)
    contains = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return lowered.like(contains, escape="\\") & lowered.regexp_match(r"(^|[^[:alnum:]])" + word)


def company_filter(conn: Connection, name: str) -> ColumnElement[bool] | None:
    """A condition on ``personnel.company_id`` matching companies whose name has every word of ``name``."""
    words = tokens(name)
    if not words:
        return None
    if conn.dialect.name == "sqlite":
        ids: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("companies_fts"))
            .where(text("companies_fts MATCH :cq").bindparams(cq=_fts_match(words)))
        )
    else:
        ids = select(companies.c.id).where(and_(*[_starts_a_word(companies.c.name, w) for w in words]))
    return personnel.c.company_id.in_(ids.scalar_subquery())


def person_text_filter(
    conn: Connection, query: str, *, title_only: bool = False, name_only: bool = False
) -> ColumnElement[bool] | None:
    """A condition on ``personnel.id``: name or title (or only one of them) has every word of ``query``."""
    words = tokens(query)
    if not words:
        return None
    if conn.dialect.name == "sqlite":
        column = "title" if title_only else "full_name" if name_only else None
        match = _fts_match(words)
        if column is not None:
            match = f"{column} : ({match})"
        ids: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("personnel_fts"))
            # unique: role and person_name may both filter one query; a shared name would bind one value twice.
            .where(text("personnel_fts MATCH :pq").bindparams(bindparam("pq", match, unique=True)))
        )
        return personnel.c.id.in_(ids.scalar_subquery())
    columns = (
        [personnel.c.title]
        if title_only
        else [personnel.c.full_name]
        if name_only
        else [personnel.c.full_name, personnel.c.title]
    )
    return and_(*[or_(*[_starts_a_word(c, w) for c in columns]) for w in words])


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A 1-based page and its size."""

    page: int
    size: int

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.page - 1) * self.size


class PageQuery(NamedTuple):
    """A page's statements: the rows, the total (a count statement, or the number when known already) and, for a
    statement built once per shape (``params`` not None), the values of its bound parameters; such a ``rows``
    takes the page as ``:page_limit`` and ``:page_offset``.

    Built once, a statement skips SQLAlchemy's construction and cache-key work on every request (about a fifth of
    a search's time in the profile: docs/benchmarks.md, "Per-request cost"); the compiled form is cached anyway.
    """

    rows: Select[Any]
    total: Select[Any] | int
    params: Mapping[str, Any] | None = None


def with_page_binds(query: Select[Any]) -> Select[Any]:
    """``query`` taking its page as bound parameters (for statements built once)."""
    return query.limit(bindparam("page_limit")).offset(bindparam("page_offset"))


def paged(conn: Connection, queries: PageQuery, page: PageRequest) -> tuple[list[Any], int]:
    """Rows of one page and the total number of matches."""
    count, params = queries.total, queries.params
    total = count if isinstance(count, int) else int(conn.execute(count, dict(params or {})).scalar_one())
    if total == 0 or page.offset >= total:
        return [], total
    if params is None:
        return list(conn.execute(queries.rows.limit(page.size).offset(page.offset))), total
    rows = conn.execute(queries.rows, {**params, "page_limit": page.size, "page_offset": page.offset})
    return list(rows), total


_EVENT_BY_ID = select(events).where(events.c.id == bindparam("event_id"))


def event_query(
    keyword: str | None, country: str | None, city: str | None, date_from: date | None, date_to: date | None
) -> tuple[Select[Any], Select[Any]]:
    """Events matching the filters, by start date, and the matching count."""
    conds: list[ColumnElement[bool]] = []
    if keyword:
        words = tokens(keyword)
        if not words:
            # Only punctuation: nothing can match, as in the person and company searches (not "no filter").
            conds.append(false())
        for word in words:
            conds.append(
                func.lower(events.c.name).contains(word, autoescape=True)
                | func.lower(func.coalesce(events.c.nickname, "")).contains(word, autoescape=True)
            )
    if country:
        conds.append(func.lower(events.c.country) == country.lower())
    if city:
        conds.append(func.lower(events.c.city) == city.lower())
    if date_from:
        conds.append(events.c.date_start >= date_from)
    if date_to:
        conds.append(events.c.date_start <= date_to)
    where = and_(true(), *conds)
    rows = select(events).where(where).order_by(events.c.date_start, events.c.id)
    return rows, select(func.count()).select_from(events).where(where)


def event_by_id(conn: Connection, event_id: int) -> dict[str, Any] | None:
    """One event row."""
    row = conn.execute(_EVENT_BY_ID, {"event_id": event_id}).first()
    return None if row is None else dict(row._mapping)


PERSON_COLUMNS = (
    personnel.c.id,
    personnel.c.full_name,
    personnel.c.title,
    personnel.c.department,
    personnel.c.seniority_level,
    personnel.c.linkedin_url,
    companies.c.name.label("company_name"),
)


def event_people_query(
    conn: Connection,
    event_id: int,
    exhibitor_id: int | None,
    department: str | None,
    level: str | None,
    search: str | None,
    *,
    company: str | None = None,
    hide_unlocked: tuple[int, str] | None = None,
    personnel_count: int | None = None,
) -> PageQuery | None:
    """People attending an event (with the event's source types), and the count; None if nothing can match.

    Unfiltered, the count is the event's maintained ``personnel_count``: as given (read with the event row by the
    caller), or a query for it.

    ``company`` matches company names holding every word; ``hide_unlocked`` (account id, channel) leaves out the
    people that account has already unlocked on that channel, in the query itself so that pages and totals agree.
    """
    if exhibitor_id is not None and not 0 < exhibitor_id <= _MAX_ID:
        return None
    if exhibitor_id is None and not (department or level or search or company or hide_unlocked):
        # Unfiltered (most pages): statements built once; the total is the event's maintained count (seeding,
        # import and erasure keep it exact) instead of counting a large event's index entries on every page (23 ms
        # at 277k attendees).
        rows, count = _unfiltered_event_people()
        return PageQuery(rows, count if personnel_count is None else personnel_count, {"event_id": event_id})
    conds: list[ColumnElement[bool]] = [event_personnel.c.event_id == event_id]
    if exhibitor_id is not None:
        conds.append(event_personnel.c.exhibitor_id == exhibitor_id)
    if department:
        conds.append(func.lower(personnel.c.department) == department.lower())
    if level:
        conds.append(func.lower(personnel.c.seniority_level) == level.lower())
    for cond in (
        person_text_filter(conn, search) if search else true(),
        company_filter(conn, company) if company else true(),
    ):
        if cond is None:
            return None
        conds.append(cond)
    if hide_unlocked is not None:
        account_id, channel = hide_unlocked
        # One probe of the unique (account_id, personnel_id, channel) index per row.
        conds.append(
            ~exists().where(
                unlocks.c.account_id == account_id,
                unlocks.c.personnel_id == event_personnel.c.personnel_id,
                unlocks.c.channel == channel,
            )
        )
    where = and_(*conds)
    rows = _event_people_rows().where(where)
    return PageQuery(rows, select(func.count()).select_from(_EVENT_PEOPLE).where(where))


_EVENT_PEOPLE = event_personnel.join(personnel, personnel.c.id == event_personnel.c.personnel_id)


def _event_people_rows() -> Select[Any]:
    return (
        select(*PERSON_COLUMNS, event_personnel.c.source_types)
        .select_from(_EVENT_PEOPLE.outerjoin(companies, companies.c.id == personnel.c.company_id))
        .order_by(event_personnel.c.personnel_id)
    )


@cache
def _unfiltered_event_people() -> tuple[Select[Any], Select[Any]]:
    rows = with_page_binds(_event_people_rows().where(event_personnel.c.event_id == bindparam("event_id")))
    return rows, select(events.c.personnel_count).where(events.c.id == bindparam("event_id"))


def contact_search_query(
    conn: Connection, company_name: str, role: str | None, person_name: str | None
) -> PageQuery | None:
    """People across all events at matching companies, and the count; None if nothing can match."""
    if conn.dialect.name == "sqlite":
        return _sqlite_contact_search(company_name, role, person_name)
    conds: list[ColumnElement[bool]] = []
    for cond in (
        company_filter(conn, company_name),
        person_text_filter(conn, role, title_only=True) if role else true(),
        person_text_filter(conn, person_name, name_only=True) if person_name else true(),
    ):
        if cond is None:
            return None
        conds.append(cond)
    where = and_(*conds)
    return PageQuery(_contact_rows().where(where), select(func.count()).select_from(personnel).where(where))


def _contact_rows() -> Select[Any]:
    return (
        select(*PERSON_COLUMNS)
        .select_from(personnel.outerjoin(companies, companies.c.id == personnel.c.company_id))
        .order_by(personnel.c.id)
    )


def _sqlite_contact_search(company_name: str, role: str | None, person_name: str | None) -> PageQuery | None:
    """The SQLite search: statements built once per shape (which filters are given), the FTS5 queries bound."""
    params: dict[str, Any] = {}
    given = (("cq", company_name, None), ("rq", role, "title"), ("pq", person_name, "full_name"))
    for key, text_query, column in given:
        if key != "cq" and not text_query:
            continue  # no role or name filter (the company is always one)
        words = tokens(text_query or "")
        if not words:
            return None
        match = _fts_match(words)
        params[key] = match if column is None else f"{column} : ({match})"
    rows, count = _sqlite_search_statements("rq" in params, "pq" in params)
    return PageQuery(rows, count, params)


def _fts_ids(table: str, key: str) -> Any:
    return (
        select(literal_column("rowid"))
        .select_from(text(table))
        .where(text(f"{table} MATCH :{key}").bindparams(bindparam(key)))
        .scalar_subquery()
    )


@cache
def _sqlite_search_statements(by_role: bool, by_name: bool) -> tuple[Select[Any], Select[Any]]:
    conds = [personnel.c.company_id.in_(_fts_ids("companies_fts", "cq"))]
    if by_role:
        conds.append(personnel.c.id.in_(_fts_ids("personnel_fts", "rq")))
    if by_name:
        conds.append(personnel.c.id.in_(_fts_ids("personnel_fts", "pq")))
    where = and_(*conds)
    return with_page_binds(_contact_rows().where(where)), select(func.count()).select_from(personnel).where(where)


def person_by_id(conn: Connection, person_id: int) -> Any | None:
    """One person with their company name."""
    return conn.execute(
        select(*PERSON_COLUMNS)
        .select_from(personnel.outerjoin(companies, companies.c.id == personnel.c.company_id))
        .where(personnel.c.id == person_id)
    ).first()


@cache
def _attendance(sqlite: bool) -> Select[Any]:
    # Built once; on SQLite the ids travel as one JSON value (an expanding IN re-renders the SQL on every call).
    ids: BindParameter[Any] = bindparam("ids", expanding=not sqlite)
    among = (
        in_bound_ids("sqlite", event_personnel.c.personnel_id, ids)
        if sqlite
        else event_personnel.c.personnel_id.in_(ids)
    )
    return select(event_personnel.c.personnel_id, event_personnel.c.source_types).where(among)


def attendance_of(conn: Connection, person_ids: Sequence[int]) -> dict[int, tuple[int, set[str]]]:
    """Per person: how many events they attend, and every source type they appear with."""
    if not person_ids:
        return {}
    result: dict[int, tuple[int, set[str]]] = {}
    sqlite = conn.dialect.name == "sqlite"
    ids = id_list_value("sqlite", person_ids) if sqlite else list(person_ids)
    for pid, sources in conn.execute(_attendance(sqlite), {"ids": ids}):
        count, kinds = result.get(pid, (0, set()))
        kinds.update(s for s in sources.split(",") if s)
        result[pid] = (count + 1, kinds)
    return result
