"""Time arithmetic inside SQL, so the audit aggregates rows where they are stored instead of in Python.

Constructs compiled for PostgreSQL and for SQLite (the only databases ``server.db`` makes engines for):

- ``local_bucket(column, unit, zone, offset_minutes)``: the moment cut to the local hour or day. PostgreSQL cuts
  with its own zone database (``date_trunc`` with a zone: the start of the bucket as a time with zone, much cheaper
  per row than formatting text); SQLite has none, so it adds the zone's UTC offset (the caller takes it at the
  start of the range: exact for zones without daylight saving, such as the default Asia/Shanghai) and answers the
  local text. ``bucket_key`` turns either answer into the same text (``2026-02-10 16`` or ``2026-02-10``).
- ``local_number(column, unit, offset_minutes)``: the same cut for a zone whose offset stays the same over the
  range, as a whole number of local hours or days since 1970: integer arithmetic instead of a zone conversion
  per row (about twice as fast in PostgreSQL), and an integer is the cheapest value to group by and read back.
- ``minutes_between(start, end)``: the minutes from ``start`` to ``end`` as a number.
- ``whole(number)``: a non-negative number rounded down to an integer (a cast alone rounds to the nearest in
  PostgreSQL and truncates in SQLite: a 14-minute wait would land in the 15–30 bin on one and not the other).
- ``utc_floor(column, unit)``: the start of the moment's UTC hour or day, as each database stores a
  ``UTCDateTime`` (SQLite: SQLAlchemy's text; PostgreSQL: a time with zone), so it can be written to the roll-ups.

Their constant parts are written into the SQL text, not bound: PostgreSQL only accepts a grouped expression in the
select list when it is textually the same as in GROUP BY, and two bind parameters never are.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnExpressionArgument, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.sqltypes import NullType

__all__ = [
    "BUCKET_FORMATS",
    "bucket_key",
    "local_bucket",
    "local_number",
    "minutes_between",
    "offset_minutes",
    "utc_floor",
    "whole",
]

BUCKET_FORMATS = {"hour": "%Y-%m-%d %H", "day": "%Y-%m-%d"}
_SECONDS = {"hour": 3600, "day": 86400}
_EPOCH = datetime(1970, 1, 1)  # local numbers count from local midnight of this day
_ZONE = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")


def offset_minutes(zone: str, at: datetime) -> int:
    """The zone's offset from UTC at ``at``, in whole minutes."""
    offset = at.astimezone(ZoneInfo(zone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


class local_bucket(FunctionElement[Any]):
    type = NullType()  # text from SQLite, a time with zone from PostgreSQL: read by bucket_key
    inherit_cache = False  # the unit, zone and offset are part of the SQL text, not of the cache key
    name = "local_bucket"

    def __init__(self, column: Any, unit: str, zone: str, offset: int) -> None:
        if unit not in BUCKET_FORMATS:
            raise ValueError(f"unknown bucket unit {unit!r}")
        if not _ZONE.fullmatch(zone):
            raise ValueError(f"not a zone name: {zone!r}")
        self.unit, self.zone, self.offset = unit, zone, int(offset)
        super().__init__(column)


@compiles(local_bucket)
def _bucket_sqlite(element: local_bucket, compiler: Any, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"strftime('{BUCKET_FORMATS[element.unit]}', {column}, '{element.offset:+d} minutes')"


@compiles(local_bucket, "postgresql")
def _bucket_postgres(element: local_bucket, compiler: Any, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"date_trunc('{element.unit}', {column}, '{element.zone}')"


@lru_cache(maxsize=8192)  # a chart repeats each bucket once per checkpoint or outcome: format it once
def bucket_key(value: Any, unit: str, zone: str) -> str:
    """The bucket's local text, from either database's answer to ``local_bucket`` or ``local_number``."""
    if isinstance(value, int):
        return (_EPOCH + timedelta(seconds=value * _SECONDS[unit])).strftime(BUCKET_FORMATS[unit])
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(zone)).strftime(BUCKET_FORMATS[unit])
    return str(value)


class minutes_between(FunctionElement[float]):
    type = Float()
    inherit_cache = True
    name = "minutes_between"

    def __init__(self, start: ColumnExpressionArgument[Any], end: ColumnExpressionArgument[Any]) -> None:
        super().__init__(start, end)


@compiles(minutes_between)
def _minutes_sqlite(element: minutes_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    # julianday is a double of days: rounded to whole milliseconds, an exact 15 minutes is 15.0, not 14.9999999.
    return f"(round((julianday({end}) - julianday({start})) * 86400000.0) / 60000.0)"


@compiles(minutes_between, "postgresql")
def _minutes_postgres(element: minutes_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    # date_part answers a double; extract answers a numeric since PostgreSQL 14, several times slower per row.
    return f"(date_part('epoch', {end} - {start}) / 60.0)"


class utc_floor(FunctionElement[Any]):
    type = NullType()
    inherit_cache = False  # the unit is part of the SQL text
    name = "utc_floor"

    def __init__(self, column: Any, unit: str) -> None:
        if unit not in BUCKET_FORMATS:
            raise ValueError(f"unknown bucket unit {unit!r}")
        self.unit = unit
        super().__init__(column)


@compiles(utc_floor)
def _floor_sqlite(element: utc_floor, compiler: Any, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    hour = "%H" if element.unit == "hour" else "00"
    return f"strftime('%Y-%m-%d {hour}:00:00.000000', {column})"


@compiles(utc_floor, "postgresql")
def _floor_postgres(element: utc_floor, compiler: Any, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"date_trunc('{element.unit}', {column}, 'UTC')"


class local_number(FunctionElement[int]):
    type = BigInteger()
    inherit_cache = False  # the unit and offset are part of the SQL text
    name = "local_number"

    def __init__(self, column: Any, unit: str, offset: int) -> None:
        if unit not in BUCKET_FORMATS:
            raise ValueError(f"unknown bucket unit {unit!r}")
        self.seconds, self.offset = _SECONDS[unit], int(offset) * 60
        super().__init__(column)


@compiles(local_number)
def _number_sqlite(element: local_number, compiler: Any, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    return f"((CAST(strftime('%s', {column}) AS INTEGER) + {element.offset:d}) / {element.seconds:d})"


@compiles(local_number, "postgresql")
def _number_postgres(element: local_number, compiler: Any, **kw: Any) -> str:
    column = compiler.process(next(iter(element.clauses)), **kw)
    # Whole seconds first, then integer division: no rounding of a double can move an instant across a boundary.
    return (
        f"((CAST(floor(date_part('epoch', {column})) AS BIGINT) + {element.offset:d}) / {element.seconds:d})"
    )


class whole(FunctionElement[int]):
    type = BigInteger()
    inherit_cache = True
    name = "whole"

    def __init__(self, number: ColumnElement[Any]) -> None:
        super().__init__(number)


@compiles(whole)
def _whole_sqlite(element: whole, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(next(iter(element.clauses)), **kw)} AS INTEGER)"


@compiles(whole, "postgresql")
def _whole_postgres(element: whole, compiler: Any, **kw: Any) -> str:
    return f"CAST(floor({compiler.process(next(iter(element.clauses)), **kw)}) AS BIGINT)"
