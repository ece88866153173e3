"""Idempotency keys: SQL gets the `idempotency_keys` table; Cosmos DB the `idempotency`
container, partitioned by tenant, whose documents expire a day after their last write."""

import contextlib

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from commons.data_access_layer.migrations import target
from commons.data_access_layer.sql.migration_types import ExactString, ExactUnicode, UTCDateTime

CONTAINER = "idempotency"
# A day, plus the lease of a claim: the application ignores records past their own expiry
# anyway; the TTL only clears them away.
DEFAULT_TTL_SECONDS = 24 * 3600 + 60


def _schema():
    metadata = sa.MetaData()
    sa.Table(
        "idempotency_keys",
        metadata,
        sa.Column("id", ExactString(64), primary_key=True),
        sa.Column("tenant_id", ExactString(64), nullable=False),
        sa.Column("user_id", ExactUnicode(128), nullable=False),
        sa.Column("fingerprint", ExactString(64), nullable=False),
        sa.Column("lease_token", ExactString(32), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer_status", sa.Integer(), nullable=True),
        sa.Column(
            "answer_body", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
        ),
        sa.Index("ix_idempotency_keys_user_expiry", "tenant_id", "user_id", "expires_at"),
    )
    return metadata


def _cosmos_up(database):
    from azure.cosmos import PartitionKey

    database.create_container_if_not_exists(
        id=CONTAINER,
        partition_key=PartitionKey(path="/tenant_id"),
        default_ttl=DEFAULT_TTL_SECONDS,
    )


def _cosmos_down(database):
    from azure.cosmos.exceptions import CosmosResourceNotFoundError

    with contextlib.suppress(CosmosResourceNotFoundError):
        database.delete_container(CONTAINER)


def up():
    target().run_sql(lambda connection: _schema().create_all(connection))
    target().run_cosmos(_cosmos_up)


def down():
    target().run_sql(lambda connection: _schema().drop_all(connection))
    target().run_cosmos(_cosmos_down)
