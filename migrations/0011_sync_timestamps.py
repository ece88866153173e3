"""Incremental sync: every catalog record and time entry says when it was created and changed.

SQL: `activity`, `customer`, `project_type`, `project`, `technology` and `time_entry` get
`created_at` and `updated_at` (NOT NULL) and an index `ix_<table>_tenant_updated` over
(tenant_id, updated_at, id), the order of the sync lists. Existing rows are stamped updated at
the migration's time (a client's first sync takes them all anyway) and created when they
started (time entries), when they were first used (technologies, `creation_date`) or else at
the migration's time. The columns are added with the migration's time as their default, which
every database fills in without rewriting the table, and the default is dropped afterwards
(SQLite cannot drop a default: there it stays, unused, as the application always sets both).
Copying the start of every time entry is one UPDATE of the whole table, inside the migration's
transaction, as are the indexes: writes wait meanwhile. The tables are analysed afterwards, so
that the planners know the new indexes. `users` already has both columns.
Cosmos DB: the same six containers get a composite index (updated_at ASC, id ASC), which
Cosmos DB needs to order by two properties (it builds it online after the policy changes), and
their records get `created_at` and `updated_at` as above, one replace per record (documents of
the `user` container have them already). Going down
drops the index and the two properties again, so that going up anew stamps what changed
meanwhile.
"""

from datetime import UTC, datetime

import sqlalchemy as sa

from commons.data_access_layer.migrations import target
from commons.data_access_layer.sql.engine import analyze
from commons.data_access_layer.sql.migration_types import UTCDateTime

TABLES = ("activity", "customer", "project_type", "project", "technology", "time_entry")
COLUMNS = ("created_at", "updated_at")
# When a record was created, as well as it can be told from what it holds.
CREATED_FROM = {"time_entry": "start_date", "technology": "creation_date"}
COMPOSITE = [{"path": "/updated_at", "order": "ascending"}, {"path": "/id", "order": "ascending"}]


def _index_name(table):
    return f"ix_{table}_tenant_updated"


def _table(name):
    # Frozen: the columns this migration reads, writes and indexes.
    columns = ["tenant_id", "id", *COLUMNS, *([CREATED_FROM[name]] if name in CREATED_FROM else [])]
    return sa.Table(
        name,
        sa.MetaData(),
        *(
            sa.Column(column, UTCDateTime() if column not in ("tenant_id", "id") else sa.String())
            for column in columns
        ),
    )


def _index(table):
    return sa.Index(_index_name(table.name), table.c.tenant_id, table.c.updated_at, table.c.id)


def _sql_up(connection):
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    column_type = UTCDateTime().compile(dialect=dialect)
    now = datetime.now(UTC).replace(tzinfo=None)
    default = f"'{now.isoformat(sep=' ', timespec='microseconds')}'"
    for name in TABLES:
        for column in COLUMNS:
            if dialect.name == "mssql":
                constraint = quote(f"df_{name}_{column}")
                definition = f"{column_type} NOT NULL CONSTRAINT {constraint} DEFAULT {default}"
            else:
                definition = f"{column_type} NOT NULL DEFAULT {default}"
            connection.exec_driver_sql(
                f"ALTER TABLE {quote(name)} ADD {quote(column)} {definition}"
            )
            if dialect.name in ("postgresql", "mysql", "mariadb"):
                connection.exec_driver_sql(
                    f"ALTER TABLE {quote(name)} ALTER COLUMN {quote(column)} DROP DEFAULT"
                )
            elif dialect.name == "mssql":
                connection.exec_driver_sql(
                    f"ALTER TABLE {quote(name)} DROP CONSTRAINT {constraint}"
                )
        table = _table(name)
        if name in CREATED_FROM:
            # A time entry may start up to a minute ahead: never created after it was updated.
            source = table.c[CREATED_FROM[name]]
            moment = sa.bindparam("now", now.replace(tzinfo=UTC), type_=UTCDateTime())
            earlier = sa.case((source < moment, source), else_=moment)
            connection.execute(sa.update(table).values(created_at=earlier))
        _index(table).create(connection)
    analyze(connection, list(TABLES))


def _sql_down(connection):
    quote = connection.dialect.identifier_preparer.quote
    for name in reversed(TABLES):
        _index(_table(name)).drop(connection)
        for column in reversed(COLUMNS):
            connection.exec_driver_sql(f"ALTER TABLE {quote(name)} DROP COLUMN {quote(column)}")


def _replace(database, container_id, change):
    # As in 0009: Cosmos DB takes a replace as the whole definition, so the definition as read
    # goes back with the one setting changed.
    container = database.get_container_client(container_id)
    definition = {
        name: value
        for name, value in container.read().items()
        if not name.startswith("_") or name == "_rid"
    }
    change(definition)
    database.client_connection.ReplaceContainer(container.container_link, definition)


def _with_composite(definition):
    policy = dict(definition.get("indexingPolicy") or {})
    composites = [c for c in policy.get("compositeIndexes") or [] if c != COMPOSITE]
    policy["compositeIndexes"] = [*composites, COMPOSITE]
    definition["indexingPolicy"] = policy


def _without_composite(definition):
    policy = dict(definition.get("indexingPolicy") or {})
    policy["compositeIndexes"] = [c for c in policy.get("compositeIndexes") or [] if c != COMPOSITE]
    definition["indexingPolicy"] = policy


def _stamp(value):
    # The documents' timestamp form (commons/data_access_layer/cosmos/documents.py), frozen.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _records(container):
    # Records store `deleted` (null while live); change documents and locks do not.
    return list(
        container.query_items(
            "SELECT * FROM c WHERE IS_DEFINED(c.deleted)", enable_cross_partition_query=True
        )
    )


def _cosmos_up(database):
    now = _stamp(datetime.now(UTC))
    for name in TABLES:
        _replace(database, name, _with_composite)
        container = database.get_container_client(name)
        for document in _records(container):
            if document.get("updated_at") and document.get("created_at"):
                continue
            # Stored timestamps compare as the instants they name.
            created = min(document.get(CREATED_FROM.get(name, "")) or now, now)
            container.upsert_item(
                {
                    **document,
                    "created_at": document.get("created_at") or created,
                    "updated_at": document.get("updated_at") or now,
                }
            )


def _cosmos_down(database):
    for name in TABLES:
        _replace(database, name, _without_composite)
        container = database.get_container_client(name)
        for document in _records(container):
            if "created_at" not in document and "updated_at" not in document:
                continue
            container.upsert_item({k: v for k, v in document.items() if k not in COLUMNS})


def up():
    target().run_sql(_sql_up)
    target().run_cosmos(_cosmos_up)


def down():
    target().run_sql(_sql_down)
    target().run_cosmos(_cosmos_down)
