"""The SQL audit log table `events`; on Cosmos DB the `event` container exists since 0001."""

import sqlalchemy as sa

from commons.data_access_layer.migrations import target
from commons.data_access_layer.sql.migration_types import UTCDateTime as _UTCDateTime


def _schema():
    metadata = sa.MetaData()
    sa.Table(
        "events",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("date", _UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Unicode(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("description", sa.Unicode(500), nullable=False),
        sa.Column("item_id", sa.Unicode(128), nullable=False),
        sa.Column("container_id", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Index("ix_events_tenant_date", "tenant_id", "date"),
        sa.Index("ix_events_tenant_item", "tenant_id", "item_id"),
    )
    return metadata


def up():
    target().run_sql(lambda connection: _schema().create_all(connection))


def down():
    target().run_sql(lambda connection: _schema().drop_all(connection))
