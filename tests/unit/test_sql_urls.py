"""The ODBC connection strings SQL URLs turn into: MariaDB gets its port as `port=`, the rest of
each URL as SQLAlchemy writes it."""

from __future__ import annotations

import pytest

from commons.data_access_layer.sql.engine import normalized_url

MARIADB = "DRIVER={MariaDB Unicode}"


def odbc_connection_string(url: str) -> str:
    """What the engine's dialect hands pyodbc.connect() for the URL (no driver loaded)."""
    parsed = normalized_url(url)
    (connection_string,), _ = parsed.get_dialect()().create_connect_args(parsed)
    return connection_string


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "mariadb+pyodbc://root@127.0.0.1:3307/db?driver=MariaDB+Unicode",
            f"{MARIADB};Server=127.0.0.1;Database=db;UID=root;port=3307",
        ),
        (
            "mysql+pyodbc://root@db.example:3307/db?driver=MariaDB+Unicode",
            f"{MARIADB};Server=db.example;Database=db;UID=root;port=3307",
        ),
        (  # a port in the query wins, as SQLAlchemy has it
            "mariadb+pyodbc://root@127.0.0.1:3307/db?driver=MariaDB+Unicode&port=3308",
            f"{MARIADB};Server=127.0.0.1;Database=db;UID=root;port=3308",
        ),
        (  # other query options stay, and a password ODBC would misread is braced
            "mariadb+pyodbc://tt:p%3Bw%7Dd%40x@127.0.0.1:3307/db"
            "?driver=MariaDB+Unicode&charset=utf8mb4",
            f"{MARIADB};Server=127.0.0.1;Database=db;UID=tt;PWD={{p;w}}}}d@x}};"
            "port=3307;charset=utf8mb4",
        ),
    ],
)
def test_a_mariadb_port_reaches_the_driver_as_a_port_keyword(url, expected):
    assert odbc_connection_string(url) == expected


@pytest.mark.parametrize(
    "url, expected",
    [
        (  # no port: the driver's default
            "mariadb+pyodbc://root:@127.0.0.1/db?driver=MariaDB+Unicode",
            f"{MARIADB};Server=127.0.0.1;Database=db;UID=root",
        ),
        (  # SQL Server's driver reads `host,port`
            "mssql+pyodbc://sa:pw@db.example:1433/db?driver=ODBC+Driver+18+for+SQL+Server",
            "DRIVER={ODBC Driver 18 for SQL Server};Server=db.example,1433;Database=db;"
            "UID=sa;PWD=pw",
        ),
    ],
)
def test_other_odbc_urls_are_written_as_sqlalchemy_writes_them(url, expected):
    assert odbc_connection_string(url) == expected
