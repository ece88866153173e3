"""The statements of the hot paths as each database receives them."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy.dialects import mssql, mysql, sqlite

from commons.data_access_layer.sql import time_entries

DIALECTS = {"sqlite": sqlite.dialect(), "mariadb": mysql.dialect(), "mssql": mssql.dialect()}
SHAPES = [
    time_entries._Shape(*flags)  # noqa: SLF001 - the statements themselves are under test
    for flags in itertools.product((False, True), repeat=len(time_entries._Shape.__annotations__))
]


def statements():
    yield from (time_entries._listing(shape) for shape in SHAPES)  # noqa: SLF001
    yield time_entries._conflicts()  # noqa: SLF001
    yield time_entries._overlapping()  # noqa: SLF001


@pytest.mark.parametrize("name", DIALECTS)
def test_a_window_condition_is_a_plain_condition_on_databases_without_booleans(name):
    # `(start < ? AND ...) = 1` kept MariaDB from reading a month as a range of an index (it
    # read all of a person's entries), and SQL Server refuses it.
    for statement in statements():
        sql = str(statement.compile(dialect=DIALECTS[name]))
        assert ") = 1" not in sql, sql
