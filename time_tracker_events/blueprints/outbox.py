"""The timer that drains the SQL outbox into the `events` table."""

# No `from __future__ import annotations`: the worker reads the trigger's parameter annotation.
import logging

import azure.functions as func
from audit import clients
from audit.settings import EventsSettings

from commons.data_access_layer.sql.outbox import drain

FUNCTION_NAME = "drain_outbox"
SCHEDULE = "%OUTBOX_SCHEDULE%"
# Bounds one invocation; whatever is left waits for the next tick.
MAX_BATCHES = 50

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name(FUNCTION_NAME)
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, use_monitor=False)
def drain_outbox(timer: func.TimerRequest) -> None:
    """Record the audit events of the pending changes of the SQL outbox that are due, and
    queue their deliveries (to the tenants' webhooks, and to AMQP when AMQP_URL is set).

    A failed change waits out its retry delay and is tried on a later tick; a batch with a failed
    change ends the tick.
    """
    if timer.past_due:
        logger.warning("The outbox timer is past due")
    batch_size = EventsSettings.from_env().outbox_batch_size
    total, batches = drain(
        clients.sql_engine(), batch_size, max_batches=MAX_BATCHES, amqp=clients.amqp()
    )
    log = logger.warning if total.failed or total.parked else logger.info
    log(
        "Outbox: %d delivered, %d failed, %d parked in %d batch(es)",
        total.delivered,
        total.failed,
        total.parked,
        batches,
    )
