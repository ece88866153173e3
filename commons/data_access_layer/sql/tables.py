"""The SQL schema as the application sees it. Migrations create and evolve it.

Every id and key column is an `id_string`: compared exactly (case, accents and trailing spaces
count) on every database, so a look-alike tenant or user id is another tenant or user.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from commons.data_access_layer.sql.types import UTCDateTime, binary_string, id_string
from commons.domain import catalog
from commons.domain import time_entries as entries
from commons.domain import webhooks as hooks
from commons.domain.principal import (
    EMAIL_MAX_LENGTH,
    GROUP_NAME_MAX_LENGTH,
    TENANT_ID_MAX_LENGTH,
    USER_ID_MAX_LENGTH,
    USER_NAME_MAX_LENGTH,
)

metadata = sa.MetaData()
# Text of any length: MariaDB's TEXT stops at 64 KiB.
LONG_TEXT = sa.UnicodeText().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

ID = 36
TENANT_ID = TENANT_ID_MAX_LENGTH
USER_ID = USER_ID_MAX_LENGTH
NAME_KEY = 200
EMAIL_KEY = 64  # a SHA-256 in hex


def _catalog_table(name: str, *columns: sa.Column) -> sa.Table:
    # Names are unique among live records: `uniqueness_slot` is '' while a record is live and
    # its own id once soft deleted, so one portable unique index does what a partial index would.
    return sa.Table(
        name,
        metadata,
        sa.Column("tenant_id", id_string(TENANT_ID), primary_key=True),
        sa.Column("id", id_string(ID), primary_key=True),
        sa.Column("name", sa.Unicode(catalog.NAME_MAX_LENGTH), nullable=False),
        sa.Column("name_key", binary_string(NAME_KEY), nullable=False),
        sa.Column("uniqueness_scope", id_string(ID), nullable=False),
        sa.Column("uniqueness_slot", id_string(ID), nullable=False),
        sa.Column("deleted", UTCDateTime(), nullable=True),
        *columns,
        *_sync_columns(name),
        sa.Index(
            f"uq_{name}_name",
            "tenant_id",
            "uniqueness_scope",
            "name_key",
            "uniqueness_slot",
            unique=True,
        ),
    )


def _sync_columns(table: str) -> tuple[sa.Column[Any] | sa.Index, ...]:
    """When a record was created and last changed (set by the repositories), and the sync
    lists' order over them (migration 0011)."""
    return (
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Index(f"ix_{table}_tenant_updated", "tenant_id", "updated_at", "id"),
    )


# TEXT holds ACTIVITY_DESCRIPTION_MAX_LENGTH four-byte characters on every database (MariaDB's
# TEXT: 65,535 bytes); the API refuses longer values.
activity = _catalog_table(
    "activity",
    sa.Column("description", sa.UnicodeText(), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
)
customer = _catalog_table(
    "customer",
    sa.Column("description", sa.Unicode(catalog.DESCRIPTION_MAX_LENGTH), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
)
project_type = _catalog_table(
    "project_type",
    sa.Column("description", sa.Unicode(catalog.DESCRIPTION_MAX_LENGTH), nullable=True),
    sa.Column("customer_id", id_string(ID), nullable=True),
    sa.Column("parent_id", id_string(ID), nullable=True),
)
project = _catalog_table(
    "project",
    sa.Column("description", sa.Unicode(catalog.DESCRIPTION_MAX_LENGTH), nullable=True),
    sa.Column("customer_id", id_string(ID), nullable=True),
    sa.Column("project_type_id", id_string(ID), nullable=True),
    sa.Column("technologies", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
)
technology = _catalog_table(
    "technology",
    sa.Column("first_use_time_entry_id", id_string(ID), nullable=True),
    sa.Column("creation_date", UTCDateTime(), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("tenant_id", id_string(TENANT_ID), primary_key=True),
    sa.Column("id", id_string(USER_ID, unicode=True), primary_key=True),
    sa.Column("email", sa.Unicode(EMAIL_MAX_LENGTH), nullable=True),
    sa.Column("name", sa.Unicode(USER_NAME_MAX_LENGTH), nullable=True),
    sa.Column("token_groups", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # The email's key (commons.domain.users.email_key), and '' for a user added before their
    # first login or their own id once they logged in: one invited user per email and tenant.
    sa.Column("email_key", id_string(EMAIL_KEY), nullable=True),
    sa.Column("invitation_slot", id_string(USER_ID, unicode=True), nullable=True),
    sa.Index("uq_users_invitation", "tenant_id", "email_key", "invitation_slot", unique=True),
)

user_groups = sa.Table(
    "user_groups",
    metadata,
    sa.Column("tenant_id", id_string(TENANT_ID), primary_key=True),
    sa.Column("user_id", id_string(USER_ID, unicode=True), primary_key=True),
    sa.Column("group_name", id_string(GROUP_NAME_MAX_LENGTH), primary_key=True),
)

CATALOG_TABLES = {
    "activity": activity,
    "customer": customer,
    "project_type": project_type,
    "project": project,
    "technology": technology,
}

time_entry = sa.Table(
    "time_entry",
    metadata,
    sa.Column("tenant_id", id_string(TENANT_ID), primary_key=True),
    sa.Column("id", id_string(ID), primary_key=True),
    sa.Column("owner_id", id_string(USER_ID, unicode=True), nullable=False),
    sa.Column("project_id", id_string(ID), nullable=False),
    sa.Column("activity_id", id_string(ID), nullable=False),
    # TEXT: see activity.description (DESCRIPTION_MAX_LENGTH characters).
    sa.Column("description", sa.UnicodeText(), nullable=True),
    sa.Column("start_date", UTCDateTime(), nullable=False),
    sa.Column("end_date", UTCDateTime(), nullable=True),
    # A ticket id or link, filtered on exactly.
    sa.Column("uri", id_string(entries.URI_MAX_LENGTH, unicode=True), nullable=True),
    sa.Column("technologies", sa.JSON(), nullable=False),
    sa.Column("timezone_offset", sa.Integer(), nullable=True),
    # 1 while the entry runs and is not deleted, else NULL: the unique index below then allows
    # one running entry per user on every database (NULLs never collide; SQL Server filters).
    sa.Column("running_slot", sa.SmallInteger(), nullable=True),
    sa.Column("deleted", UTCDateTime(), nullable=True),
    *_sync_columns("time_entry"),
    sa.CheckConstraint("end_date IS NULL OR end_date > start_date", name="ck_time_entry_interval"),
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
    # The lists' order (newest first, ties by id) over live entries, covering the columns a
    # page's conditions read (migration 0010; on MariaDB and MySQL, which have neither INCLUDE
    # nor partial indexes, end_date, owner_id and deleted are key columns instead).
    sa.Index(
        "ix_time_entry_tenant_page",
        "tenant_id",
        "start_date",
        "id",
        postgresql_include=["end_date", "owner_id"],
        postgresql_where=sa.text("deleted IS NULL"),
        mssql_include=["end_date", "owner_id"],
        mssql_where=sa.text("deleted IS NULL"),
    ),
    sa.Index("ix_time_entry_owner_project", "tenant_id", "owner_id", "project_id", "start_date"),
)

# Change events written in the same transaction as the change; a dispatcher delivers them.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", id_string(ID), primary_key=True),
    sa.Column("tenant_id", id_string(TENANT_ID), nullable=False),
    sa.Column("container_id", id_string(32), nullable=False),
    sa.Column("item_id", id_string(USER_ID, unicode=True), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("user_id", id_string(USER_ID, unicode=True), nullable=False),
    sa.Column("description", sa.Unicode(500), nullable=False),
    sa.Column("session_id", id_string(64), nullable=True),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("last_error", sa.UnicodeText(), nullable=True),
    sa.Column("processed_at", UTCDateTime(), nullable=True),
    # When a failed change is tried again; NULL: due at once (migration 0007).
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    # The record after the change as the API returns it, in JSON, for the events that leave
    # the system (migration 0012); NULL: written by no API (seeding) or before then.
    sa.Column("item", LONG_TEXT, nullable=True),
    sa.Index("ix_outbox_status_occurred", "status", "occurred_at"),
)

# The audit log, written by the events app (time_tracker_events) from the outbox.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", id_string(ID), primary_key=True),
    sa.Column("tenant_id", id_string(TENANT_ID), nullable=False),
    sa.Column("date", UTCDateTime(), nullable=False),
    sa.Column("user_id", id_string(USER_ID, unicode=True), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("description", sa.Unicode(500), nullable=False),
    sa.Column("item_id", id_string(USER_ID, unicode=True), nullable=False),
    sa.Column("container_id", id_string(32), nullable=False),
    sa.Column("session_id", id_string(64), nullable=True),
    sa.Index("ix_events_tenant_date_id", "tenant_id", "date", "id"),
    sa.Index("ix_events_tenant_item", "tenant_id", "item_id"),
)

# Idempotency keys (migration 0008): a claim while its request runs, then the answer, stored in
# the transaction of the write it answers.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("id", id_string(64), primary_key=True),  # idempotency.record_id
    sa.Column("tenant_id", id_string(TENANT_ID), nullable=False),
    sa.Column("user_id", id_string(USER_ID, unicode=True), nullable=False),
    sa.Column("fingerprint", id_string(64), nullable=False),
    sa.Column("lease_token", id_string(32), nullable=False),
    sa.Column("lease_until", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("answer_status", sa.Integer(), nullable=True),
    # MariaDB's BLOB holds 64 KiB; an answer may be larger.
    sa.Column("answer_body", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")),
    sa.Index("ix_idempotency_keys_user_expiry", "tenant_id", "user_id", "expires_at"),
)

# Events out (migration 0012): the tenants' webhooks, the deliveries the relay queues for them
# and for AMQP (`sink`: a webhook's id or "amqp"), and each attempt to send one to a webhook.
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("tenant_id", id_string(TENANT_ID), primary_key=True),
    sa.Column("id", id_string(ID), primary_key=True),
    sa.Column("url", sa.Unicode(hooks.URL_MAX_LENGTH), nullable=False),
    sa.Column("events", sa.JSON(), nullable=False),
    sa.Column("description", sa.Unicode(hooks.DESCRIPTION_MAX_LENGTH), nullable=True),
    sa.Column("secret", id_string(64), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("disabled_reason", sa.Unicode(200), nullable=True),
    sa.Column("failing_since", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", id_string(ID), primary_key=True),
    sa.Column("tenant_id", id_string(TENANT_ID), nullable=False),
    sa.Column("sink", id_string(ID), nullable=False),
    sa.Column("event_id", id_string(ID), nullable=False),
    sa.Column("event_type", id_string(32), nullable=False),
    sa.Column("body", LONG_TEXT, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    # A dispatcher's claim: nobody else sends it before then.
    sa.Column("claimed_until", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("done_at", UTCDateTime(), nullable=True),
    # One delivery per event and sink: a relay replaying a change queues nothing new.
    sa.Index("uq_deliveries_sink_event", "sink", "event_id", unique=True),
    sa.Index("ix_deliveries_status_due", "status", "next_attempt_at"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", id_string(ID), primary_key=True),
    sa.Column("tenant_id", id_string(TENANT_ID), nullable=False),
    sa.Column("webhook_id", id_string(ID), nullable=False),
    sa.Column("delivery_id", id_string(ID), nullable=False),
    sa.Column("event_id", id_string(ID), nullable=False),
    sa.Column("event_type", id_string(32), nullable=False),
    sa.Column("attempted_at", UTCDateTime(), nullable=False),
    sa.Column("duration_ms", sa.Integer(), nullable=False),
    sa.Column("response_status", sa.Integer(), nullable=True),
    sa.Column("error", sa.Unicode(500), nullable=True),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    sa.Index("ix_delivery_attempts_webhook", "tenant_id", "webhook_id", "attempted_at", "id"),
)
