"""SQL the dialects spell differently, compiled per database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class seconds_between(FunctionElement[float]):  # noqa: N801 - reads like the SQL function it is
    """`later - earlier` in seconds, as a float."""

    type = sa.Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _default(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


@compiles(seconds_between, "sqlite")
def _sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    # julianday() keeps whole milliseconds as a float of ~2.46e6 days: its difference is off by
    # tens of microseconds either way (30 min came out as 1799.99998 s). Round to SQLite's ms.
    return f"(round((julianday({later}) - julianday({earlier})) * 86400000.0) / 1000.0)"


@compiles(seconds_between, "mysql")
@compiles(seconds_between, "mariadb")
def _mysql(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(TIMESTAMPDIFF(MICROSECOND, {earlier}, {later}) / 1000000.0)"


@compiles(seconds_between, "mssql")
def _mssql(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(DATEDIFF_BIG(microsecond, {earlier}, {later}) / 1000000.0)"


def later_of(a: Any, b: Any) -> sa.Case[Any]:
    return sa.case((a > b, a), else_=b)


def earlier_of(a: Any, b: Any) -> sa.Case[Any]:
    return sa.case((a < b, a), else_=b)


class intervals_meet(FunctionElement[Any]):  # noqa: N801 - reads like the SQL it compiles to
    """Whether [start, end) meets [window_start, window_end); a NULL end runs forever."""

    # Not Boolean: on databases without a boolean type SQLAlchemy would compare a Boolean
    # function to 1 in a WHERE clause, `(start < ? AND ...) = 1`, which keeps MariaDB's and
    # SQLite's planners from using a range of an index (MariaDB read a person's 4,000 entries
    # for a month of 95) and which SQL Server does not accept at all.
    type = sa.types.NullType()
    inherit_cache = True
    name = "intervals_meet"


@compiles(intervals_meet)
def _portable_meet(element: intervals_meet, compiler: Any, **kw: Any) -> str:
    start, end, window_start, window_end = (compiler.process(a, **kw) for a in element.clauses)
    return f"({start} < {window_end} AND ({end} IS NULL OR {end} > {window_start}))"


@compiles(intervals_meet, "postgresql")
def _postgresql_meet(element: intervals_meet, compiler: Any, **kw: Any) -> str:
    # The same expression as the exclusion constraint's, so its GiST index serves the query.
    start, end, window_start, window_end = (compiler.process(a, **kw) for a in element.clauses)
    return (
        f"(tsrange({start}, {end}, '[)') && "
        f"tsrange(CAST({window_start} AS TIMESTAMP), CAST({window_end} AS TIMESTAMP), '[)'))"
    )
