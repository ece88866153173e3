"""The dispatcher of events going out: sends the queued deliveries to the tenants' webhooks
(signed POSTs) and to the AMQP exchange (confirmed publishes), and records what came of each.

Webhooks are sent from a pool of threads, at most `PER_WEBHOOK` at a time to one webhook, so a
slow or dead receiver holds up neither the API (which only queued the change) nor any other
receiver. A webhook's URL is checked again when it is sent (its host may resolve elsewhere by
now) and the request goes to the very address that was checked. The event's id is the
`webhook-id` of every attempt, so a receiver knows a retry, or a replayed change, for the one
it has seen.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import urllib3
from standardwebhooks.webhooks import Webhook as Signer

from commons.data_access_layer.ports import Claimed, Storage
from commons.domain.deliveries import (
    AMQP_DELAYS,
    DISABLE_AFTER,
    WEBHOOK_DELAYS,
    WEBHOOK_TIMEOUT,
    Attempt,
    Delivery,
    next_attempt,
)
from commons.domain.exceptions import ValidationFailed
from commons.domain.retries import describe
from commons.services.webhooks import Resolver, checked_addresses, resolve
from commons.settings import OutboundSettings

logger = logging.getLogger(__name__)

WORKERS = 16
PER_WEBHOOK = 4
BACKLOG_PER_WEBHOOK = 8 * PER_WEBHOOK
# Deliveries done or given up on, and attempts, are kept this long (`GET .../deliveries`).
KEEP_DELIVERIES = timedelta(days=30)
PURGE_EVERY_SECONDS = 3600.0
# Successes are recorded this many at a time, or this long after the first of them at most.
RECORD_BATCH = 100
RECORD_WITHIN_SECONDS = 0.5
AMQP_BATCH = 500
USER_AGENT = "TimeTracker-Webhooks/1"
Clock = Callable[[], datetime]


# Told how many deliveries to a sink ("webhooks", "amqp") ended how ("delivered", "failed").
Observe = Callable[[str, str, int], None]


def _unobserved(sink: str, outcome: str, count: int) -> None:
    """The default observer: outcomes are only counted where an edge asks for it."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Round:
    """What one round of dispatching did."""

    sent: int = 0  # taken by their webhook
    failed: int = 0  # attempts that failed (tried again later, or given up)
    published: int = 0  # confirmed by the broker
    unpublished: int = 0  # not confirmed: tried again later
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.published + self.unpublished


class Dispatcher:
    """Sends what `storage.deliveries` holds. `run_once` delivers everything due now and waits
    for it; `follow` keeps delivering until stopped, never waiting on one webhook."""

    def __init__(
        self,
        storage: Storage,
        settings: OutboundSettings,
        *,
        publisher: Any | None = None,
        clock: Clock = utc_now,
        workers: int = WORKERS,
        per_webhook: int = PER_WEBHOOK,
        resolver: Resolver = resolve,
        timeout: timedelta = WEBHOOK_TIMEOUT,
        observe: Observe = _unobserved,
    ):
        self.storage = storage
        self.observe = observe
        self.timeout = timeout
        self.settings = settings
        self.clock = clock
        self.per_webhook = per_webhook
        self.resolver = resolver
        self.publisher = publisher
        if publisher is None and settings.amqp_url:
            from commons.messaging.amqp import AmqpPublisher

            self.publisher = AmqpPublisher(settings.amqp_url, settings.amqp_exchange)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")
        self._marker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amqp-marks")
        self.workers = workers
        self.http = urllib3.PoolManager(num_pools=64, maxsize=per_webhook, retries=False)
        # Claimed deliveries waiting for a free worker, per webhook: claimed ahead, at most
        # BACKLOG_PER_WEBHOOK each, so that the queue is asked once for many sends (and a
        # claim's lease outlasts the wait even for a receiver timing out every time).
        self._backlog: dict[str, deque[Claimed]] = {}
        self._in_flight: dict[str, int] = {}  # webhook id → deliveries being sent
        self._futures: set[Future[tuple[Claimed, Attempt]]] = set()
        self._drained = False  # the last claim found nothing more due
        self._taken: list[tuple[Delivery, Attempt]] = []  # successes not yet recorded
        self._taken_since = 0.0
        self._purged_at: float | None = None

    @property
    def amqp(self) -> bool:
        return self.publisher is not None

    def close(self) -> None:
        self.finish(Round())
        self.pool.shutdown(wait=True)
        self._marker.shutdown(wait=True)
        self.http.clear()
        if self.publisher is not None:
            self.publisher.close()

    def relay(self, batch_size: int = 100) -> Any:
        """Record the due changes' audit events and queue their deliveries."""
        return self.storage.dispatch_changes(batch_size, amqp=self.amqp)

    def purge(self) -> None:
        """Forget old deliveries and attempts, at most once every PURGE_EVERY_SECONDS."""
        if self._purged_at is not None and time.monotonic() - self._purged_at < PURGE_EVERY_SECONDS:
            return
        self._purged_at = time.monotonic()
        try:
            self.storage.deliveries.purge(self.clock() - KEEP_DELIVERIES)
        except Exception as error:  # noqa: BLE001 - tried again at the next purge
            logger.warning("Old deliveries could not be purged: %s", describe(error))

    def run_once(self) -> Round:
        """Send every delivery due now and wait for their outcomes."""
        result = Round()
        self.purge()
        if self.amqp:
            self.publish_due(result)
        self._drained = False
        # Whenever sends end, the room they leave goes to what is due: a slow webhook holds up
        # its own deliveries only.
        while True:
            self.start_webhooks()
            if not self._futures:
                self.collect(result)  # the successes still unrecorded
                return result
            self.collect(result, timeout=None)

    def start_webhooks(self) -> int:
        """Claim due webhook deliveries when few are left waiting, and start sending those
        there is room for; how many started."""
        waiting = sum(len(backlog) for backlog in self._backlog.values())
        running_dry = not self._backlog or any(
            len(backlog) < self.per_webhook for backlog in self._backlog.values()
        )
        # Workers the backlog cannot use (its webhooks are at their limit) go to other webhooks.
        startable = sum(
            min(len(backlog), max(self.per_webhook - self._in_flight.get(sink, 0), 0))
            for sink, backlog in self._backlog.items()
        )
        idle = len(self._futures) + startable < self.workers
        if (idle or (waiting < self.workers and running_dry)) and not self._drained:
            # A webhook with enough waiting to keep it busy gets no more for now.
            busy = [s for s, backlog in self._backlog.items() if len(backlog) >= self.per_webhook]
            claimed = self.storage.deliveries.claim(
                self.clock(), self.workers * 2, False, busy=busy, per_sink=BACKLOG_PER_WEBHOOK
            )
            self._drained = not claimed and not busy
            for one in claimed:
                self._backlog.setdefault(one.delivery.sink, deque()).append(one)
        started = 0
        for sink, backlog in list(self._backlog.items()):
            while backlog and len(self._futures) < self.workers:
                if self._in_flight.get(sink, 0) >= self.per_webhook:
                    break
                self._in_flight[sink] = self._in_flight.get(sink, 0) + 1
                self._futures.add(self.pool.submit(self._send, backlog.popleft()))
                started += 1
            if not backlog:
                del self._backlog[sink]
        return started

    def collect(self, result: Round, timeout: float | None = 0) -> None:
        """Take the outcomes of the sends that ended within `timeout` seconds (None: once one
        has): failures are recorded at once, successes together, RECORD_BATCH at a time or
        when nothing is being sent any more."""
        if self._futures:
            done, _ = wait(self._futures, timeout=timeout, return_when=FIRST_COMPLETED)
        else:
            done = set()
        for future in done:
            self._futures.discard(future)
            claimed, attempt = future.result()
            self._in_flight[claimed.delivery.sink] -= 1
            if not self._in_flight[claimed.delivery.sink]:
                del self._in_flight[claimed.delivery.sink]
            if attempt.succeeded:
                if not self._taken:
                    self._taken_since = time.monotonic()
                self._taken.append((claimed.delivery, attempt))
                continue
            result.failed += 1
            self.observe("webhooks", "failed", 1)
            self._record_failure(claimed.delivery, attempt, result)
        if self._taken and (
            len(self._taken) >= RECORD_BATCH
            or not self._futures
            or time.monotonic() - self._taken_since > RECORD_WITHIN_SECONDS
        ):
            taken, self._taken = self._taken, []
            try:
                self.storage.deliveries.succeeded(taken, self.clock())
            except Exception as error:  # noqa: BLE001 - unrecorded: sent again after the lease
                logger.warning("Deliveries taken could not be recorded: %s", describe(error))
                result.errors.append(describe(error))
                return
            result.sent += len(taken)
            self.observe("webhooks", "delivered", len(taken))

    def _record_failure(self, delivery: Delivery, attempt: Attempt, result: Round) -> None:
        logger.info(
            "Webhook %s: delivery of %s failed (attempt %d): %s",
            delivery.sink,
            delivery.event_id,
            delivery.attempts + 1,
            attempt.error,
        )
        now = self.clock()
        try:
            self.storage.deliveries.failed(
                delivery, attempt, attempt.next_attempt_at, now, now - DISABLE_AFTER
            )
        except Exception as error:  # noqa: BLE001 - unrecorded: tried again after the lease
            logger.warning("A failed delivery could not be recorded: %s", describe(error))
            result.errors.append(describe(error))

    def step(self, result: Round) -> int:
        """One round of following: publish what is due to AMQP, start the webhook deliveries
        there is room for, and record those that ended meanwhile; never waits on a webhook.
        Returns how many started."""
        self.purge()
        if self.amqp:
            self.publish_due(result)
        self._drained = False
        started = self.start_webhooks()
        self.collect(result, timeout=0.05 if started else 0)
        return started

    def follow(self, stop: threading.Event, interval: float = 1.0, batch_size: int = 100) -> None:
        """Relay and deliver until `stop` is set; a round that found nothing sleeps `interval`."""
        while not stop.is_set():
            result = Round()
            try:
                self.relay(batch_size)
                started = self.step(result)
            except Exception as error:  # noqa: BLE001 - reported, and tried again next round
                logger.warning("Dispatching failed: %s", describe(error))
                started = 0
            if result.total:
                logger.info("%s", summary(result))
            if not started and not result.total:
                stop.wait(interval)
        self.finish(Round())

    def finish(self, result: Round) -> None:
        """Send what was claimed and wait for every outcome, claiming nothing more."""
        self._drained = True
        while True:
            self.start_webhooks()
            if not self._futures:
                self.collect(result)  # the successes still unrecorded
                return
            self.collect(result, timeout=None)

    def _send(self, claimed: Claimed) -> tuple[Claimed, Attempt]:
        return claimed, self.send(claimed)

    def send(self, claimed: Claimed) -> Attempt:
        """One signed POST of the delivery to its webhook; what it came to."""
        delivery, webhook = claimed.delivery, claimed.webhook
        assert webhook is not None
        attempted_at = self.clock()
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            status = self._post(webhook.url, webhook.secret, delivery)
            if not 200 <= status < 300:
                error = f"The receiver answered {status}"
        except ValidationFailed as refused:
            error = "; ".join(str(reason) for reason in refused.errors.values()) or refused.message
        except urllib3.exceptions.TimeoutError:
            error = f"No answer within {self.timeout.total_seconds():g} s"
        except Exception as failure:  # noqa: BLE001 - whatever failed, the attempt did
            error = describe(failure)
        duration_ms = int((time.monotonic() - started) * 1000)
        retry_at = None
        if error is not None:
            retry_at = next_attempt(delivery.attempts + 1, self.clock(), WEBHOOK_DELAYS, True)
        return Attempt(
            id=str(uuid.uuid4()),
            tenant_id=delivery.tenant_id,
            webhook_id=delivery.sink,
            delivery_id=delivery.id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            attempted_at=attempted_at,
            duration_ms=duration_ms,
            response_status=status,
            error=error,
            next_attempt_at=retry_at,
        )

    def _post(self, url: str, secret: str, delivery: Delivery) -> int:
        host, addresses = checked_addresses(
            url, self.settings.webhooks_allow_private, self.resolver
        )
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        signed_at = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Host": parts.netloc.rsplit("@", 1)[-1],
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": Signer(secret).sign(delivery.event_id, signed_at, delivery.body),
        }
        # To the address just checked, not to whatever the name resolves to next.
        pool = self.http.connection_from_host(
            addresses[0],
            port,
            parts.scheme,
            pool_kwargs={"server_hostname": host, "assert_hostname": host}
            if parts.scheme == "https"
            else None,
        )
        response = pool.urlopen(
            "POST",
            path,
            body=delivery.body.encode("utf-8"),
            headers=headers,
            redirect=False,
            retries=False,
            timeout=urllib3.Timeout(total=self.timeout.total_seconds()),
            assert_same_host=False,
            preload_content=False,
        )
        try:
            response.read(64 * 1024)  # enough to keep the connection; the body is not kept
        finally:
            response.release_conn()
        return int(response.status)

    def publish_due(self, result: Round) -> None:
        """Publish the due AMQP deliveries, batch after batch, until none is left or the broker
        fails; confirmed ones are done, the others wait out their next delay."""
        from commons.messaging.amqp import Message, PublishFailed, routing_key

        assert self.publisher is not None
        queue = self.storage.deliveries
        # Marking a confirmed batch published overlaps with claiming and publishing the next.
        marking: Future[None] | None = None
        try:
            while True:
                claimed = queue.claim(self.clock(), AMQP_BATCH, True)
                if not claimed:
                    return
                deliveries = [one.delivery for one in claimed]
                messages = [
                    Message(
                        routing_key=routing_key(delivery.tenant_id, *_container_action(delivery)),
                        body=delivery.body.encode("utf-8"),
                        message_id=delivery.event_id,
                        type=delivery.event_type,
                        timestamp=delivery.created_at or self.clock(),
                    )
                    for delivery in deliveries
                ]
                try:
                    self.publisher.publish(messages)
                except PublishFailed as error:
                    confirmed = deliveries[: error.confirmed]
                    queue.published(confirmed, self.clock())
                    result.published += len(confirmed)
                    rest = deliveries[error.confirmed :]
                    self._unpublished(rest, error)
                    result.unpublished += len(rest)
                    self.observe("amqp", "delivered", len(confirmed))
                    self.observe("amqp", "failed", len(rest))
                    result.errors.append(f"AMQP: {describe(error.cause or error)}")
                    return
                self._marked(marking, result)
                marking = self._marker.submit(queue.published, deliveries, self.clock())
                result.published += len(deliveries)
                self.observe("amqp", "delivered", len(deliveries))
                if len(claimed) < AMQP_BATCH:
                    return
        finally:
            self._marked(marking, result)

    @staticmethod
    def _marked(marking: Future[None] | None, result: Round) -> None:
        """Wait for a batch's marking; one that failed is published again after the lease."""
        if marking is None:
            return
        try:
            marking.result()
        except Exception as error:  # noqa: BLE001 - the lease hands it to a later dispatch
            logger.warning("Published deliveries could not be marked: %s", describe(error))
            result.errors.append(describe(error))

    def _unpublished(self, deliveries: Sequence[Delivery], error: Exception) -> None:
        logger.warning("%d AMQP deliveries not confirmed: %s", len(deliveries), error)
        now = self.clock()
        for delivery in deliveries:
            retry_at = next_attempt(delivery.attempts + 1, now, AMQP_DELAYS, False)
            self.storage.deliveries.failed(delivery, None, retry_at, now)


def _container_action(delivery: Delivery) -> tuple[str, str]:
    container, _, action = delivery.event_type.partition(".")
    return container, action


def summary(result: Round) -> str:
    """One line of what a round did."""
    text = f"webhooks: {result.sent} delivered, {result.failed} failed"
    if result.published or result.unpublished:
        text += f"; AMQP: {result.published} published, {result.unpublished} to retry"
    return text
