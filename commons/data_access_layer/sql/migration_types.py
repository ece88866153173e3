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
