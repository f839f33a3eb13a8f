"""Set-at-a-time helpers for hot paths: one bound parameter for a list of ids, driver-level executemany.

A plain ``IN (:a, :b, ...)`` renders one parameter per id and recompiles for every list length; a hot path that
sends 100 ids per statement spends its time in the SQL compiler. Here a list travels as one value: a JSON array
unpacked by ``json_each`` on SQLite, an array compared with ``= ANY`` on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, BindParameter, ColumnElement, Connection, any_, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from contactvault.server.db.types import UTCDateTime


def in_ids(conn: Connection, target: ColumnElement[Any], ids: Sequence[int]) -> ColumnElement[bool]:
    """``target IN ids`` with the whole list as a single bound value."""
    return in_bound_ids(conn.dialect.name, target, bindparam(None, id_list_value(conn.dialect.name, ids)))


def id_list_value(dialect: str, ids: Sequence[int]) -> Any:
    """The single bound value that carries a list of ids."""
    return list(ids) if dialect == "postgresql" else json.dumps(list(ids))


def in_bound_ids(dialect: str, target: ColumnElement[Any], param: BindParameter[Any]) -> ColumnElement[bool]:
    """``target IN`` the ids carried by ``param`` (see ``id_list_value``); lets a statement be built once."""
    if dialect == "postgresql":
        param.type = ARRAY(BigInteger)
        return target == any_(param)
    values = func.json_each(param).table_valued(column("value", BigInteger))
    return target.in_(select(values.c.value).scalar_subquery())


def driver_time(conn: Connection, moment: datetime | None) -> Any:
    """A timestamp as the driver wants it for a UTC column (for driver-level statements)."""
    if moment is None:
        return None
    processor = UTCDateTime().dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return processor(moment) if processor else moment


def executemany(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run one statement for many rows straight through the driver (``?`` placeholders, any dialect)."""
    if not rows:
        return
    if conn.dialect.paramstyle in ("format", "pyformat"):
        sql = sql.replace("?", "%s")
    conn.exec_driver_sql(sql, list(rows))
