"""Outbox retries back off: each pending change records when it may be tried again.

A change whose handler failed waits before the dispatcher claims it again (the delays are the
events app's, time_tracker_events/audit/sql.py). NULL means due at once: every row written
before this migration, and every change that never failed.
"""

from commons.data_access_layer.migrations import target
from commons.data_access_layer.sql.migration_types import UTCDateTime

TABLE, COLUMN = "outbox", "next_attempt_at"


def _add(connection):
    quote = connection.dialect.identifier_preparer.quote
    column_type = UTCDateTime().compile(dialect=connection.dialect)
    # `ADD` without `COLUMN`: the one spelling SQL Server shares with the others.
    connection.exec_driver_sql(f"ALTER TABLE {quote(TABLE)} ADD {quote(COLUMN)} {column_type} NULL")


def _drop(connection):
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql(f"ALTER TABLE {quote(TABLE)} DROP COLUMN {quote(COLUMN)}")


def up():
    target().run_sql(_add)


def down():
    target().run_sql(_drop)
