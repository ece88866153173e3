"""The timer that sends the queued deliveries of the changes: signed POSTs to the tenants'
webhooks, confirmed publishes to the AMQP exchange (when AMQP_URL is set)."""

# No `from __future__ import annotations`: the worker reads the trigger's parameter annotation.
import logging

import azure.functions as func
from audit import clients

from commons.services.deliveries import summary

FUNCTION_NAME = "deliver_events"
SCHEDULE = "%DELIVERIES_SCHEDULE%"

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name(FUNCTION_NAME)
@bp.timer_trigger(arg_name="timer", schedule=SCHEDULE, use_monitor=False)
def deliver_events(timer: func.TimerRequest) -> None:
    """Send every delivery that is due, to webhooks and to AMQP, and record each outcome; a
    failed one waits out its next delay and is sent on a later tick."""
    if timer.past_due:
        logger.warning("The deliveries timer is past due")
    for dispatcher in clients.dispatchers():
        result = dispatcher.run_once()
        log = logger.warning if result.failed or result.unpublished else logger.info
        log("Deliveries: %s", summary(result))
        for problem in result.errors:
            logger.warning("Deliveries: %s", problem)
