"""Users added by an admin before their first login, one per email and tenant.

SQL: `users` gains `email_key` (the SHA-256 of the case-folded email) and `invitation_slot`
('' for a user added before their first login, their own id otherwise) and a unique index over
(tenant_id, email_key, invitation_slot); existing users get their key and slot. Cosmos DB: an
invitation is a document of the `user` container whose id derives from the email key; existing
user documents get their `email_key`. Going down removes the users who never logged in.
"""

import hashlib

import sqlalchemy as sa

from commons.data_access_layer.migrations import target
from commons.data_access_layer.sql.migration_types import ExactString, ExactUnicode

INDEX = "uq_users_invitation"


def _users(metadata):
    # Frozen: the columns this migration reads and writes.
    return sa.Table(
        "users",
        metadata,
        sa.Column("tenant_id", ExactString(64), primary_key=True),
        sa.Column("id", ExactUnicode(128), primary_key=True),
        sa.Column("email", sa.Unicode(320), nullable=True),
        sa.Column("email_key", ExactString(64), nullable=True),
        sa.Column("invitation_slot", ExactUnicode(128), nullable=True),
    )


def _key(email):
    return hashlib.sha256(email.casefold().encode()).hexdigest()


def _up(connection):
    users = _users(sa.MetaData())
    quote = connection.dialect.identifier_preparer.quote
    for name in ("email_key", "invitation_slot"):
        column_type = users.c[name].type.compile(dialect=connection.dialect)
        connection.exec_driver_sql(f"ALTER TABLE users ADD {quote(name)} {column_type} NULL")
    rows = connection.execute(sa.select(users.c.tenant_id, users.c.id, users.c.email)).all()
    for row in rows:
        connection.execute(
            sa.update(users)
            .where(users.c.tenant_id == row.tenant_id, users.c.id == row.id)
            .values(email_key=_key(row.email) if row.email else None, invitation_slot=row.id)
        )
    columns = (users.c.tenant_id, users.c.email_key, users.c.invitation_slot)
    sa.Index(INDEX, *columns, unique=True).create(connection)


def _down(connection):
    users = _users(sa.MetaData())
    sa.Index(INDEX, users.c.tenant_id, users.c.email_key, users.c.invitation_slot).drop(connection)
    # Users who never logged in have no id an identity provider knows: they go with the columns.
    metadata = users.metadata
    memberships = sa.Table(
        "user_groups",
        metadata,
        sa.Column("tenant_id", ExactString(64), primary_key=True),
        sa.Column("user_id", ExactUnicode(128), primary_key=True),
    )
    invited = connection.execute(
        sa.select(users.c.tenant_id, users.c.id).where(users.c.invitation_slot == "")
    ).all()
    for row in invited:
        connection.execute(
            sa.delete(memberships).where(
                memberships.c.tenant_id == row.tenant_id, memberships.c.user_id == row.id
            )
        )
    connection.execute(sa.delete(users).where(users.c.invitation_slot == ""))
    quote = connection.dialect.identifier_preparer.quote
    for name in ("invitation_slot", "email_key"):
        connection.exec_driver_sql(f"ALTER TABLE users DROP COLUMN {quote(name)}")


def _cosmos_documents(database, sql):
    container = database.get_container_client("user")
    return container, list(container.query_items(sql, enable_cross_partition_query=True))


def _cosmos_up(database):
    container, documents = _cosmos_documents(
        database, "SELECT * FROM c WHERE c.type = 'user' AND NOT IS_DEFINED(c.email_key)"
    )
    for document in documents:
        email = document.get("email")
        container.upsert_item({**document, "email_key": _key(email) if email else None})


def _cosmos_down(database):
    container, documents = _cosmos_documents(
        database, "SELECT * FROM c WHERE c.type = 'invitation' OR c.invited = true"
    )
    for document in documents:
        container.delete_item(document["id"], partition_key=document["tenant_id"])


def up():
    target().run_sql(_up)
    target().run_cosmos(_cosmos_up)


def down():
    target().run_sql(_down)
    target().run_cosmos(_cosmos_down)
