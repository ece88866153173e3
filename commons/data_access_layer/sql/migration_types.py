"""Column types the migrations share. Frozen: applied migrations (and the copies of them stored
in the `migrations` table, replayed on revert) import these, so never change one; add another.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql


class UTCDateTime(sa.types.TypeDecorator[Any]):
    """A timestamp column: microseconds on MariaDB/MySQL and SQL Server too."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        if dialect.name == "mssql":
            return dialect.type_descriptor(mssql.DATETIME2(precision=6))
        return dialect.type_descriptor(sa.DateTime())


def exact_collation(dialect: sa.Dialect) -> str:
    """MariaDB's or MySQL's collation comparing code points, trailing spaces included.

    `utf8mb4_bin` will not do: it is a PAD SPACE collation, where 'a' = 'a ' holds.
    """
    return "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"


class ExactString(sa.types.TypeDecorator[str]):
    """An id or key: equal only to the very same string (case, accents, trailing spaces).

    PostgreSQL's and SQLite's default comparisons already are exact; MariaDB and MySQL get a
    binary NO PAD collation, whatever the database's default.
    """

    impl = sa.String
    cache_ok = True

    def __init__(self, length: int):
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            exact = mysql.VARCHAR(
                self.length, charset="utf8mb4", collation=exact_collation(dialect)
            )
            return dialect.type_descriptor(exact)
        return dialect.type_descriptor(self.impl_instance)


class ExactUnicode(ExactString):
    """An ExactString that may hold any character on SQL Server too (NVARCHAR)."""

    impl = sa.Unicode
    cache_ok = True
