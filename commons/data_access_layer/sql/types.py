"""Column types that behave the same on every supported database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from commons.data_access_layer.sql.migration_types import ExactString, ExactUnicode
from commons.data_access_layer.sql.migration_types import UTCDateTime as ColumnType


class UTCDateTime(ColumnType):
    """A real timestamp stored as naive UTC, returned timezone-aware in UTC."""

    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        naive = value.astimezone(UTC).replace(tzinfo=None)
        if dialect.name in ("mysql", "mariadb") and dialect.driver == "pyodbc":
            # The MariaDB ODBC driver rounds bound timestamps to whole seconds; text keeps
            # the microseconds and the server converts it exactly.
            return naive.isoformat(sep=" ", timespec="microseconds")
        return naive

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def binary_string(length: int) -> sa.types.TypeEngine[str]:
    """A string compared byte for byte: MariaDB's default collations would merge accents."""
    return sa.Unicode(length).with_variant(
        mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def id_string(length: int, unicode: bool = False) -> sa.types.TypeEngine[str]:
    """An id or key column, equal only to the very same string on every database.

    Case, accents and trailing spaces all count: 'a', 'A', 'á' and 'a ' are four ids. `unicode`
    ids (user ids, which come from identity providers) may hold any character on SQL Server too.
    """
    return ExactUnicode(length) if unicode else ExactString(length)
