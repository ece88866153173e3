"""The SQL outbox of change events; on Cosmos DB the documents carry `_last_event_ctx`."""

import sqlalchemy as sa

from commons.data_access_layer.migrations import target
from commons.data_access_layer.sql.migration_types import UTCDateTime as _UTCDateTime


def _schema():
    metadata = sa.MetaData()
    sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("container_id", sa.String(32), nullable=False),
        sa.Column("item_id", sa.Unicode(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Unicode(128), nullable=False),
        sa.Column("description", sa.Unicode(500), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("occurred_at", _UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.UnicodeText(), nullable=True),
        sa.Column("processed_at", _UTCDateTime(), nullable=True),
        sa.Index("ix_outbox_status_occurred", "status", "occurred_at"),
    )
    return metadata


def up():
    target().run_sql(lambda connection: _schema().create_all(connection))


def down():
    target().run_sql(lambda connection: _schema().drop_all(connection))
