"""Catalog (activity, customer, project_type, project, technology), users and audit events.

SQL: the catalog tables and `users`/`user_groups`. Cosmos DB: the catalog, `user` and `event`
containers, partitioned by tenant, and the `leases` container of the change feed processors.
"""

import contextlib

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from commons.data_access_layer.migrations import target
from commons.data_access_layer.sql.migration_types import UTCDateTime as _UTCDateTime


def _name_key():
    return sa.Unicode(200).with_variant(
        mysql.VARCHAR(200, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


def _schema():
    metadata = sa.MetaData()

    def catalog_table(name, *columns):
        sa.Table(
            name,
            metadata,
            sa.Column("tenant_id", sa.String(64), primary_key=True),
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("name", sa.Unicode(50), nullable=False),
            sa.Column("name_key", _name_key(), nullable=False),
            sa.Column("uniqueness_scope", sa.String(36), nullable=False),
            sa.Column("uniqueness_slot", sa.String(36), nullable=False),
            sa.Column("deleted", _UTCDateTime(), nullable=True),
            *columns,
            sa.Index(
                f"uq_{name}_name",
                "tenant_id",
                "uniqueness_scope",
                "name_key",
                "uniqueness_slot",
                unique=True,
            ),
        )

    catalog_table(
        "activity",
        sa.Column("description", sa.UnicodeText(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
    )
    catalog_table(
        "customer",
        sa.Column("description", sa.Unicode(250), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
    )
    catalog_table(
        "project_type",
        sa.Column("description", sa.Unicode(250), nullable=True),
        sa.Column("customer_id", sa.String(36), nullable=True),
        sa.Column("parent_id", sa.String(36), nullable=True),
    )
    catalog_table(
        "project",
        sa.Column("description", sa.Unicode(250), nullable=True),
        sa.Column("customer_id", sa.String(36), nullable=True),
        sa.Column("project_type_id", sa.String(36), nullable=True),
        sa.Column("technologies", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    catalog_table(
        "technology",
        sa.Column("first_use_time_entry_id", sa.String(36), nullable=True),
        sa.Column("creation_date", _UTCDateTime(), nullable=False),
    )
    sa.Table(
        "users",
        metadata,
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.Unicode(128), primary_key=True),
        sa.Column("email", sa.Unicode(320), nullable=True),
        sa.Column("name", sa.Unicode(200), nullable=True),
        sa.Column("token_groups", sa.JSON(), nullable=False),
        sa.Column("created_at", _UTCDateTime(), nullable=False),
        sa.Column("updated_at", _UTCDateTime(), nullable=False),
    )
    sa.Table(
        "user_groups",
        metadata,
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Unicode(128), primary_key=True),
        sa.Column("group_name", sa.String(64), primary_key=True),
    )
    return metadata


# Cosmos DB containers, frozen here: (id, partition key path, unique key policy or None).
# A unique key policy cannot change once a container exists, and create_container_if_not_exists
# leaves an existing container as it is: a different policy needs a new container (and a
# migration copying the documents), never an edit of this list.
# The emulator treats each path of a unique key as a unique key of its own, so the catalog's
# composite key lives in ONE path: `uniqueness_key` = "<scope>|<name_key>|<slot>" (unique within
# the tenant, the partition). A document without the path counts as null, and only one such
# document fits in a partition: every catalog document must carry it.
_CATALOG_UNIQUE_KEYS = {"uniqueKeys": [{"paths": ["/uniqueness_key"]}]}
_CONTAINERS = (
    ("activity", "/tenant_id", _CATALOG_UNIQUE_KEYS),
    ("customer", "/tenant_id", _CATALOG_UNIQUE_KEYS),
    ("project_type", "/tenant_id", _CATALOG_UNIQUE_KEYS),
    ("project", "/tenant_id", _CATALOG_UNIQUE_KEYS),
    ("technology", "/tenant_id", _CATALOG_UNIQUE_KEYS),
    ("user", "/tenant_id", None),
    ("event", "/tenant_id", None),
    # Leases of the Azure Functions change feed triggers: partitioned on /id.
    ("leases", "/id", None),
)


def _cosmos_up(database):
    from azure.cosmos import PartitionKey

    for container_id, partition_key, unique_key_policy in _CONTAINERS:
        options = {"unique_key_policy": unique_key_policy} if unique_key_policy else {}
        database.create_container_if_not_exists(
            id=container_id, partition_key=PartitionKey(path=partition_key), **options
        )


def _cosmos_down(database):
    from azure.cosmos.exceptions import CosmosResourceNotFoundError

    for container_id, _, _ in reversed(_CONTAINERS):
        with contextlib.suppress(CosmosResourceNotFoundError):
            database.delete_container(container_id)


def up():
    target().run_sql(lambda connection: _schema().create_all(connection))
    target().run_cosmos(_cosmos_up)


def down():
    target().run_sql(lambda connection: _schema().drop_all(connection))
    target().run_cosmos(_cosmos_down)
