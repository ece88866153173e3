"""A change feed trigger per audited Cosmos DB container: each change becomes an audit event,
and its deliveries (to the tenants' webhooks, and to AMQP when AMQP_URL is set) are queued."""

# No `from __future__ import annotations`: the worker reads the trigger's parameter annotation.
import logging

import azure.functions as func
from audit import clients

from commons.data_access_layer.cosmos.changes import outlet, record_documents, retry_due
from commons.data_access_layer.cosmos.containers import AUDITED_CONTAINERS

CONNECTION_SETTING = "COSMOS_CONNECTION"
DATABASE_NAME = "%DATABASE_NAME%"
LEASE_CONTAINER = "leases"
# A change whose event cannot be recorded is marked on its document and tried again by
# `retry_changes` (or parked), so one bad change never holds up its container's feed. A batch
# fails only when even that mark cannot be written (the database is away): the trigger would
# checkpoint a failed batch like a handled one unless a retry policy holds it, and retrying
# without limit keeps the lease where it is until the batch is recorded.
RETRY: dict[str, str] = {
    "strategy": "exponential_backoff",
    "max_retry_count": "-1",
    "minimum_interval": "00:00:05",
    "maximum_interval": "00:15:00",
}

bp = func.Blueprint()
logger = logging.getLogger(__name__)


def function_name(container: str) -> str:
    """The name of the function that audits `container`."""
    return f"audit_{container}_changes"


def register_audit_of(container: str) -> None:
    """Add the function that records the audit events of `container`'s changes."""
    name = function_name(container)

    def audit_changes(documents: func.DocumentList) -> None:
        changes = clients.container(container)
        deliveries = outlet(clients.database(), clients.amqp())
        tally = record_documents(
            clients.event_container(), container, documents, changes, deliveries=deliveries
        )
        log = logger.warning if tally.failed or tally.parked else logger.info
        log(
            "%s: %d changed document(s), %d audit event(s), %d to retry, %d parked",
            name,
            len(documents),
            tally.recorded,
            tally.failed,
            tally.parked,
        )

    # The worker tells functions apart by these names; each container's function has its own.
    audit_changes.__name__ = audit_changes.__qualname__ = name
    audit_changes.__doc__ = f"Record the audit events of changed `{container}` documents."
    trigger = bp.cosmos_db_trigger(
        arg_name="documents",
        connection=CONNECTION_SETTING,
        database_name=DATABASE_NAME,
        container_name=container,
        lease_container_name=LEASE_CONTAINER,
        lease_container_prefix=f"{container}-",
        create_lease_container_if_not_exists=True,
    )
    retry = bp.retry(
        strategy=RETRY["strategy"],
        max_retry_count=RETRY["max_retry_count"],
        minimum_interval=RETRY["minimum_interval"],
        maximum_interval=RETRY["maximum_interval"],
    )
    bp.function_name(name)(retry(trigger(audit_changes)))


for _container in AUDITED_CONTAINERS:
    register_audit_of(_container)


RETRY_FUNCTION_NAME = "retry_changes"
# Every minute: the first retry of a failed change is due 10 s after it failed.
RETRY_SCHEDULE = "0 * * * * *"


@bp.function_name(RETRY_FUNCTION_NAME)
@bp.timer_trigger(arg_name="timer", schedule=RETRY_SCHEDULE, use_monitor=False)
def retry_changes(timer: func.TimerRequest) -> None:
    """Try again the changes whose events could not be recorded and whose next attempt is due;
    one that fails after its last retry is parked (see `cli.py events parked`)."""
    database = clients.database()
    tally = retry_due(database, deliveries=outlet(database, clients.amqp()))
    log = logger.warning if tally.failed or tally.parked else logger.info
    log(
        "Changes retried: %d recorded, %d failed again, %d parked",
        tally.recorded,
        tally.failed,
        tally.parked,
    )
