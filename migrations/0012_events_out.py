"""Events out: webhooks and AMQP.

SQL: `outbox` gets `item` (the record after the change, in JSON); new tables `webhooks` (the
tenants' subscriptions), `deliveries` (one event to one sink, queued by the relay) and
`delivery_attempts` (each attempt to send one to a webhook).
Cosmos DB: change documents carry `item` (no migration needed); new containers `webhook` and
`delivery` (deliveries and their attempts), both partitioned by tenant. Done deliveries and
their attempts expire (`ttl` on each document), so `delivery` has a time to live without a
default.
"""

import contextlib

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from commons.data_access_layer.migrations import target
from commons.data_access_layer.sql.migration_types import ExactString, UTCDateTime

CONTAINERS = ("webhook", "delivery")
OUTBOX, ITEM = "outbox", "item"


def _long_text():
    return sa.UnicodeText().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _schema():
    # Frozen: the tables as this migration creates them.
    metadata = sa.MetaData()
    sa.Table(
        "webhooks",
        metadata,
        sa.Column("tenant_id", ExactString(64), primary_key=True),
        sa.Column("id", ExactString(36), primary_key=True),
        sa.Column("url", sa.Unicode(2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("description", sa.Unicode(500), nullable=True),
        sa.Column("secret", ExactString(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Unicode(200), nullable=True),
        sa.Column("failing_since", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    sa.Table(
        "deliveries",
        metadata,
        sa.Column("id", ExactString(36), primary_key=True),
        sa.Column("tenant_id", ExactString(64), nullable=False),
        sa.Column("sink", ExactString(36), nullable=False),
        sa.Column("event_id", ExactString(36), nullable=False),
        sa.Column("event_type", ExactString(32), nullable=False),
        sa.Column("body", _long_text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Index("uq_deliveries_sink_event", "sink", "event_id", unique=True),
        sa.Index("ix_deliveries_status_due", "status", "next_attempt_at"),
    )
    sa.Table(
        "delivery_attempts",
        metadata,
        sa.Column("id", ExactString(36), primary_key=True),
        sa.Column("tenant_id", ExactString(64), nullable=False),
        sa.Column("webhook_id", ExactString(36), nullable=False),
        sa.Column("delivery_id", ExactString(36), nullable=False),
        sa.Column("event_id", ExactString(36), nullable=False),
        sa.Column("event_type", ExactString(32), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Unicode(500), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Index("ix_delivery_attempts_webhook", "tenant_id", "webhook_id", "attempted_at", "id"),
    )
    return metadata


def _sql_up(connection):
    quote = connection.dialect.identifier_preparer.quote
    column_type = _long_text().compile(dialect=connection.dialect)
    # `ADD` without `COLUMN`: the one spelling SQL Server shares with the others.
    connection.exec_driver_sql(f"ALTER TABLE {quote(OUTBOX)} ADD {quote(ITEM)} {column_type} NULL")
    _schema().create_all(connection)


def _sql_down(connection):
    quote = connection.dialect.identifier_preparer.quote
    _schema().drop_all(connection)
    connection.exec_driver_sql(f"ALTER TABLE {quote(OUTBOX)} DROP COLUMN {quote(ITEM)}")


def _cosmos_up(database):
    from azure.cosmos import PartitionKey

    database.create_container_if_not_exists(id="webhook", partition_key=PartitionKey("/tenant_id"))
    database.create_container_if_not_exists(
        id="delivery", partition_key=PartitionKey("/tenant_id"), default_ttl=-1
    )


def _cosmos_down(database):
    from azure.cosmos.exceptions import CosmosResourceNotFoundError

    for name in CONTAINERS:
        with contextlib.suppress(CosmosResourceNotFoundError):
            database.delete_container(name)


def up():
    target().run_sql(_sql_up)
    target().run_cosmos(_cosmos_up)


def down():
    target().run_sql(_sql_down)
    target().run_cosmos(_cosmos_down)
