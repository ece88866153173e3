"""Ids and keys compared exactly: a binary NO PAD collation for them on MariaDB and MySQL.

MariaDB and MySQL compared these columns with the database's default collation (e.g.
utf8mb4_general_ci), which takes 'tenant-a', 'TENANT-A', 'tenant-á' and 'tenant-a ' for one
id. PostgreSQL, SQLite and Cosmos DB compare strings exactly already: nothing changes there.

On MariaDB/MySQL each table is altered in one statement; their DDL commits by itself, so a
failure leaves the tables before it altered, and running the migration again completes it.
Foreign keys between these columns (the application creates none, an operator may have) are
dropped first and created again afterwards (after a failure in between, by hand). Going down
fails with a duplicate key when the data holds ids that only the exact comparison tells apart.
"""

import sqlalchemy as sa

from commons.data_access_layer.migrations import target
from commons.data_access_layer.sql.migration_types import ExactString, ExactUnicode

ID, TENANT_ID, USER_ID = 36, 64, 128
_CATALOG = (("tenant_id", TENANT_ID), ("id", ID), ("uniqueness_scope", ID), ("uniqueness_slot", ID))

# Frozen: table -> (column, length, holds any character (Unicode), nullable) of the columns made
# exact, as 0001-0004 created them.
_COLUMNS = {
    "activity": [(name, length, False, False) for name, length in _CATALOG],
    "customer": [(name, length, False, False) for name, length in _CATALOG],
    "project_type": [
        *((name, length, False, False) for name, length in _CATALOG),
        ("customer_id", ID, False, True),
        ("parent_id", ID, False, True),
    ],
    "project": [
        *((name, length, False, False) for name, length in _CATALOG),
        ("customer_id", ID, False, True),
        ("project_type_id", ID, False, True),
    ],
    "technology": [
        *((name, length, False, False) for name, length in _CATALOG),
        ("first_use_time_entry_id", ID, False, True),
    ],
    "users": [("tenant_id", TENANT_ID, False, False), ("id", USER_ID, True, False)],
    "user_groups": [
        ("tenant_id", TENANT_ID, False, False),
        ("user_id", USER_ID, True, False),
        ("group_name", 64, False, False),
    ],
    "time_entry": [
        ("tenant_id", TENANT_ID, False, False),
        ("id", ID, False, False),
        ("owner_id", USER_ID, True, False),
        ("project_id", ID, False, False),
        ("activity_id", ID, False, False),
        ("uri", 2000, True, True),
    ],
    "outbox": [
        ("id", ID, False, False),
        ("tenant_id", TENANT_ID, False, False),
        ("container_id", 32, False, False),
        ("item_id", USER_ID, True, False),
        ("user_id", USER_ID, True, False),
        ("session_id", 64, False, True),
    ],
    "events": [
        ("id", ID, False, False),
        ("tenant_id", TENANT_ID, False, False),
        ("user_id", USER_ID, True, False),
        ("item_id", USER_ID, True, False),
        ("container_id", 32, False, False),
        ("session_id", 64, False, True),
    ],
}


def _exact(length, unicode, dialect):
    column_type = ExactUnicode(length) if unicode else ExactString(length)
    return column_type.compile(dialect=dialect)


def _previous(length, unicode, dialect):
    # As 0001-0004 created them: the table's default character set and collation.
    return (sa.Unicode(length) if unicode else sa.String(length)).compile(dialect=dialect)


def _foreign_keys(connection):
    """The foreign keys touching the columns this migration alters, or an error naming one
    that reaches a column it does not alter (its collation would no longer match)."""
    altered = {(table, column[0]) for table, columns in _COLUMNS.items() for column in columns}
    inspector = sa.inspect(connection)
    touching = []
    for table in inspector.get_table_names():
        for key in inspector.get_foreign_keys(table):
            sides = [(table, c) for c in key["constrained_columns"]] + [
                (key["referred_table"], c) for c in key["referred_columns"]
            ]
            inside = [side in altered for side in sides]
            if all(inside):
                touching.append((table, key))
            elif any(inside):
                raise RuntimeError(
                    f"Foreign key {key['name']} of table {table} joins an id column to a "
                    "column outside the application's schema; drop it before migrating"
                )
    return touching


def _alter(connection, column_type):
    if connection.dialect.name not in ("mysql", "mariadb"):
        return
    quote = connection.dialect.identifier_preparer.quote
    foreign_keys = _foreign_keys(connection)
    for table, key in foreign_keys:
        connection.exec_driver_sql(
            f"ALTER TABLE {quote(table)} DROP FOREIGN KEY {quote(key['name'])}"
        )
    for table, columns in _COLUMNS.items():
        changes = ", ".join(
            f"MODIFY {quote(name)} {column_type(length, unicode, connection.dialect)}"
            f" {'NULL' if nullable else 'NOT NULL'}"
            for name, length, unicode, nullable in columns
        )
        connection.exec_driver_sql(f"ALTER TABLE {quote(table)} {changes}")
    for table, key in foreign_keys:
        options = key.get("options") or {}
        actions = "".join(
            f" ON {event.upper()} {options[name]}"
            for event, name in (("delete", "ondelete"), ("update", "onupdate"))
            if options.get(name)
        )
        connection.exec_driver_sql(
            f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(key['name'])} FOREIGN KEY "
            f"({', '.join(map(quote, key['constrained_columns']))}) "
            f"REFERENCES {quote(key['referred_table'])} "
            f"({', '.join(map(quote, key['referred_columns']))}){actions}"
        )


def up():
    target().run_sql(lambda connection: _alter(connection, _exact))


def down():
    target().run_sql(lambda connection: _alter(connection, _previous))
