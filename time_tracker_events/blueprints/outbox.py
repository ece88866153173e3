"""The timer that drains the SQL outbox into the `events` table."""

# No `from __future__ import annotations`: the worker reads the trigger's parameter annotation.
import logging

import azure.functions as func
import sqlalchemy as sa
from audit import clients
from audit.settings import EventsSettings
from audit.sql import BatchResult, drain_once

FUNCTION_NAME = "drain_outbox"
SCHEDULE = "%OUTBOX_SCHEDULE%"
# Bounds one invocation; whatever is left waits for the next tick.
MAX_BATCHES = 50

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name(FUNCTION_NAME)
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, use_monitor=False)
def drain_outbox(timer: func.TimerRequest) -> None:
    """Record the audit events of every pending change in the SQL outbox."""
    if timer.past_due:
        logger.warning("The outbox timer is past due")
    batch_size = EventsSettings.from_env().outbox_batch_size
    total, batches = drain(clients.sql_engine(), batch_size)
    log = logger.warning if total.failed or total.parked else logger.info
    log(
        "Outbox: %d delivered, %d failed, %d parked in %d batch(es)",
        total.delivered,
        total.failed,
        total.parked,
        batches,
    )


def drain(engine: sa.Engine, batch_size: int) -> tuple[BatchResult, int]:
    """Drain batch after batch until one comes back short; the totals and the batch count."""
    total, batches = BatchResult(), 0
    while batches < MAX_BATCHES:
        batch = drain_once(engine, batch_size)
        batches += 1
        total.delivered += batch.delivered
        total.failed += batch.failed
        total.parked += batch.parked
        # A failed change stays pending at the head of the line: it waits for the next tick
        # rather than spending all its attempts within this one.
        if batch.claimed < batch_size or batch.failed:
            break
    return total, batches
