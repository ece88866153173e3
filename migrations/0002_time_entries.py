"""Time entries.

SQL: the time_entry table, its indexes, and on PostgreSQL an exclusion constraint on overlaps.
Cosmos DB: the time_entry container, its unique running key and composite indexes.
"""

import contextlib

import sqlalchemy as sa

from commons.data_access_layer.migrations import target
from commons.data_access_layer.sql.migration_types import UTCDateTime as _UTCDateTime

OVERLAP_CONSTRAINT = (
    "ALTER TABLE time_entry ADD CONSTRAINT ex_time_entry_overlap EXCLUDE USING gist "
    "(tenant_id WITH =, owner_id WITH =, tsrange(start_date, end_date, '[)') WITH &&) "
    "WHERE (deleted IS NULL)"
)


def _schema():
    metadata = sa.MetaData()
    sa.Table(
        "time_entry",
        metadata,
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.Unicode(128), nullable=False),
        sa.Column("project_id", sa.String(36), nullable=False),
        sa.Column("activity_id", sa.String(36), nullable=False),
        sa.Column("description", sa.UnicodeText(), nullable=True),
        sa.Column("start_date", _UTCDateTime(), nullable=False),
        sa.Column("end_date", _UTCDateTime(), nullable=True),
        sa.Column("uri", sa.Unicode(2000), nullable=True),
        sa.Column("technologies", sa.JSON(), nullable=False),
        sa.Column("timezone_offset", sa.Integer(), nullable=True),
        sa.Column("running_slot", sa.SmallInteger(), nullable=True),
        sa.Column("deleted", _UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "end_date IS NULL OR end_date > start_date", name="ck_time_entry_interval"
        ),
        sa.Index(
            "uq_time_entry_running",
            "tenant_id",
            "owner_id",
            "running_slot",
            unique=True,
            mssql_where=sa.text("running_slot IS NOT NULL"),
        ),
        sa.Index("ix_time_entry_owner_start", "tenant_id", "owner_id", "start_date"),
        sa.Index("ix_time_entry_owner_end", "tenant_id", "owner_id", "end_date"),
        sa.Index("ix_time_entry_tenant_start", "tenant_id", "start_date"),
        sa.Index(
            "ix_time_entry_owner_project", "tenant_id", "owner_id", "project_id", "start_date"
        ),
    )
    return metadata


def _up(connection):
    _schema().create_all(connection)
    if connection.dialect.name == "postgresql":
        # btree_gist lets the GiST index compare tenant and owner with `=` beside the ranges.
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS btree_gist")
        connection.exec_driver_sql(OVERLAP_CONSTRAINT)


# The Cosmos DB container, frozen here. A unique key policy cannot change once a container
# exists, and create_container_if_not_exists leaves an existing container as it is: a different
# policy needs a new container (and a migration copying the documents), never an edit here.
# `running_key` is unique within the tenant (the partition). A document without the path counts
# as null, and only one such document fits in a partition: every entry must carry a value
# (e.g. the owner for the running entry, something unique such as the id for the others).
_CONTAINER_ID = "time_entry"
_PARTITION_KEY = "/tenant_id"
_UNIQUE_KEY_POLICY = {"uniqueKeys": [{"paths": ["/running_key"]}]}
# Real Cosmos DB serves an ORDER BY on several properties only from a composite index.
_INDEXING_POLICY = {
    "indexingMode": "consistent",
    "automatic": True,
    "includedPaths": [{"path": "/*"}],
    "excludedPaths": [{"path": '/"_etag"/?'}],
    "compositeIndexes": [
        [
            {"path": "/tenant_id", "order": "ascending"},
            {"path": "/owner_id", "order": "ascending"},
            {"path": "/start_date", "order": "descending"},
        ],
        [
            {"path": "/start_date", "order": "descending"},
            {"path": "/id", "order": "descending"},
        ],
    ],
}


def _cosmos_up(database):
    from azure.cosmos import PartitionKey

    database.create_container_if_not_exists(
        id=_CONTAINER_ID,
        partition_key=PartitionKey(path=_PARTITION_KEY),
        unique_key_policy=_UNIQUE_KEY_POLICY,
        indexing_policy=_INDEXING_POLICY,
    )


def _cosmos_down(database):
    from azure.cosmos.exceptions import CosmosResourceNotFoundError

    with contextlib.suppress(CosmosResourceNotFoundError):
        database.delete_container(_CONTAINER_ID)


def up():
    target().run_sql(_up)
    target().run_cosmos(_cosmos_up)


def down():
    target().run_sql(lambda connection: _schema().drop_all(connection))
    target().run_cosmos(_cosmos_down)
