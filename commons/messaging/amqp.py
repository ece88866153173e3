"""Change events on an AMQP 0-9-1 topic exchange (RabbitMQ): a publisher with confirms, a consumer.

Routing keys are `<tenant_id>.<container>.<action>`. Each word is escaped (`routing_word`) so a
tenant id holding a dot or a wildcard cannot change the key's structure or match more than
itself in a binding.

The publisher runs pika's asynchronous connection on its own I/O loop, driven only while a call
of ours is in progress: a batch is written in one go and its confirms are awaited together,
instead of one round trip per message. Between batches nothing answers the broker's heartbeats;
a connection the broker closed meanwhile is noticed, and replaced, before the next batch.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pika
import pika.exceptions
from pika.adapters.select_connection import SelectConnection
from pika.adapters.utils.connection_workflow import (
    AMQPConnectionWorkflowFailed,
    AMQPConnectorPhaseErrorBase,
)
from pika.channel import Channel
from pika.frame import Method
from pika.spec import Basic

# pika logs every connection step at INFO; what matters reaches the caller as an exception.
logging.getLogger("pika").setLevel(logging.WARNING)

EXCHANGE_TYPE = "topic"
CONTENT_TYPE = "application/json"
PERSISTENT = 2  # AMQP delivery mode: the broker writes the message to disk
_ESCAPES = {"%": "%25", ".": "%2E", "*": "%2A", "#": "%23"}
_CLOSE_TIMEOUT_S = 2.0


class AmqpError(Exception):
    """Talking to the AMQP broker failed."""


class PublishFailed(AmqpError):
    """A batch was not confirmed in full; its first `confirmed` messages were."""

    def __init__(self, confirmed: int, cause: BaseException):
        self.confirmed = confirmed
        self.cause = cause
        super().__init__(f"{_describe(cause)} ({confirmed} confirmed before)")


class ListenFailed(AmqpError):
    """Consuming from the broker failed (unreachable, refused, or the connection was lost)."""


def routing_word(value: str) -> str:
    """One word of a routing key: `%`, `.`, `*` and `#` percent-escaped."""
    return "".join(_ESCAPES.get(character, character) for character in value)


def routing_key(tenant_id: str, container: str, action: str) -> str:
    """The routing key `<tenant_id>.<container>.<action>` of a change, each word escaped."""
    return ".".join(routing_word(word) for word in (tenant_id, container, action))


def tenant_binding(tenant_id: str) -> str:
    """The binding pattern that matches every event of one tenant."""
    return f"{routing_word(tenant_id)}.#"


def redacted(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Message:
    """One event to publish: its routing key, JSON body and identity."""

    routing_key: str
    body: bytes
    message_id: str
    type: str
    timestamp: datetime


@dataclass(frozen=True)
class Delivery:
    """One message as a consumer received it."""

    routing_key: str
    message_id: str | None
    type: str | None
    timestamp: datetime | None
    body: bytes
    redelivered: bool

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def _parameters(url: str, timeout: float) -> pika.URLParameters:
    try:
        parameters = pika.URLParameters(url)
    except (ValueError, TypeError) as error:
        raise AmqpError(f"not an AMQP URL: {redacted(url)} ({error})") from None
    parameters.socket_timeout = timeout
    parameters.stack_timeout = timeout
    parameters.connection_attempts = 1
    return parameters


def _describe(cause: BaseException | str) -> str:
    """One readable phrase for an error, unwrapping pika's nested connection errors."""
    if isinstance(cause, str):
        return cause
    while True:
        if isinstance(cause, AMQPConnectionWorkflowFailed) and cause.exceptions:
            cause = cause.exceptions[-1]
        elif isinstance(cause, AMQPConnectorPhaseErrorBase):
            cause = cause.exception
        elif isinstance(cause, pika.exceptions.AMQPError) and isinstance(
            next(iter(cause.args), None), BaseException
        ):
            cause = cause.args[0]
        else:
            break
    if isinstance(cause, AmqpError):
        return str(cause)
    return f"{type(cause).__name__}: {str(cause) or repr(cause)}"


class _Nacked(AmqpError):
    """The broker refused (nacked) a message."""


class AmqpPublisher:
    """Publishes batches of messages to a durable topic exchange and waits for the broker's
    confirms. Connects on first use and again after any failure. One thread at a time."""

    def __init__(
        self,
        url: str,
        exchange: str,
        *,
        connect_timeout: float = 5.0,
        confirm_timeout: float = 30.0,
    ):
        self.url = url
        self.exchange = exchange
        self.connect_timeout = connect_timeout
        self.confirm_timeout = confirm_timeout
        self._parameters = _parameters(url, connect_timeout)
        self._connection: SelectConnection | None = None
        self._channel: Channel | None = None
        self._ready = False
        self._failure: BaseException | None = None
        self._next_tag = 1  # the delivery tag the broker gives the channel's next publish
        self._first_tag = 1  # the tag of the current batch's first message
        self._outcomes: list[bool | None] = []  # per message of the batch: acked, nacked, waiting
        self._waiting = 0
        self._refused: _Nacked | None = None
        self._stop_when: Callable[[], bool] = lambda: True

    @property
    def where(self) -> str:
        """The broker and exchange, without the password, for logs."""
        return f"{redacted(self.url)} exchange {self.exchange}"

    def publish(self, messages: Sequence[Message]) -> None:
        """Publish the messages persistently; return once the broker confirmed every one, or
        raise PublishFailed saying how many leading messages it confirmed."""
        if not messages:
            return
        try:
            self._open()
        except AmqpError as error:
            self._drop()
            raise PublishFailed(0, error) from error
        self._first_tag = self._next_tag
        self._outcomes = [None] * len(messages)
        self._waiting = len(messages)
        self._refused = None
        channel = self._channel
        assert channel is not None
        try:
            for message in messages:
                channel.basic_publish(
                    self.exchange,
                    message.routing_key,
                    message.body,
                    pika.BasicProperties(
                        content_type=CONTENT_TYPE,
                        delivery_mode=PERSISTENT,
                        message_id=message.message_id,
                        type=message.type,
                        timestamp=int(message.timestamp.timestamp()),
                    ),
                )
                self._next_tag += 1
            self._run(
                lambda: self._waiting == 0,
                self.confirm_timeout,
                lambda: f"{self._waiting} of {len(messages)} messages unconfirmed",
            )
        except (pika.exceptions.AMQPError, OSError, AmqpError) as error:
            self._fail(error)
        except BaseException:
            # Whatever stopped us midway (a bad message, Ctrl+C), the channel's delivery tags
            # no longer match a batch: start the next publish on a new connection.
            self._drop()
            raise
        if self._failure is None and self._refused is not None:
            self._failure = self._refused
        if self._failure is not None:
            cause = self._failure
            confirmed = self._leading_confirmed()
            self._drop()
            raise PublishFailed(confirmed, cause)

    def close(self) -> None:
        """Close the connection (the next publish opens a new one)."""
        self._drop()

    def __enter__(self) -> AmqpPublisher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # The connection's life: open, fail, drop.

    def _open(self) -> None:
        if self._connection is not None:
            # Read what arrived while idle (a close by the broker, a dead socket) before
            # trusting the connection with a batch.
            self._run(lambda: False, 0)
            if self._failure is None and self._ready and self._connection.is_open:
                return
            self._drop()
        self._failure = None
        self._ready = False
        self._next_tag = 1
        self._connection = SelectConnection(
            self._parameters,
            on_open_callback=self._on_connection_open,
            on_open_error_callback=self._on_connection_error,
            on_close_callback=self._on_connection_closed,
        )
        # pika's stack timeout (connect_timeout) ends a hanging handshake first, cleanly.
        self._run(lambda: self._ready, self.connect_timeout + 1, lambda: "not connected")
        if self._failure is not None:
            # Connected but refused the set-up (an exchange of another type, say), or not.
            reached = self._connection is not None and self._connection.is_open
            problem = "cannot use" if reached else "cannot reach"
            raise AmqpError(f"{problem} {self.where}: {_describe(self._failure)}") from (
                self._failure
            )

    def _on_connection_open(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_connection_error(self, _connection: Any, error: BaseException) -> None:
        self._fail(error)

    def _on_connection_closed(self, _connection: Any, reason: BaseException) -> None:
        self._fail(reason)

    def _on_channel_open(self, channel: Channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.exchange_declare(
            self.exchange, exchange_type=EXCHANGE_TYPE, durable=True, callback=self._on_declared
        )

    def _on_declared(self, _frame: Method) -> None:
        assert self._channel is not None
        self._channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_selected)

    def _on_confirm_selected(self, _frame: Method) -> None:
        self._ready = True
        self._wake()

    def _on_channel_closed(self, _channel: Channel, reason: BaseException) -> None:
        self._fail(reason)

    def _on_confirm(self, frame: Method) -> None:
        method = frame.method
        acked = isinstance(method, Basic.Ack)
        last = method.delivery_tag - self._first_tag
        first = 0 if method.multiple else last
        for index in range(max(first, 0), min(last + 1, len(self._outcomes))):
            if self._outcomes[index] is None:
                self._outcomes[index] = acked
                self._waiting -= 1
        if not acked and self._refused is None:
            # Wait for the other confirms all the same: they may come later than this refusal
            # (a persistent message is confirmed once on disk), and they count as delivered.
            self._refused = _Nacked(
                f"{redacted(self.url)} refused (nacked) message {last + 1} of {len(self._outcomes)}"
            )
        self._wake()

    def _leading_confirmed(self) -> int:
        count = 0
        for outcome in self._outcomes:
            if outcome is not True:
                break
            count += 1
        return count

    def _fail(self, error: BaseException) -> None:
        if self._failure is None:
            self._failure = error
        self._wake()

    def _wake(self) -> None:
        if self._connection is not None and (self._failure is not None or self._stop_when()):
            self._connection.ioloop.stop()

    def _run(
        self,
        done: Callable[[], bool],
        timeout: float,
        failure: Callable[[], str] | None = None,
    ) -> None:
        """Drive the I/O loop until `done()`, a failure, or `timeout` seconds (a failure too
        when `failure` says what went missing)."""
        connection = self._connection
        if connection is None or self._failure is not None or done():
            return
        ioloop = connection.ioloop

        def expire() -> None:
            if failure is not None:
                self._fail(TimeoutError(f"{failure()} after {timeout:g} s"))
            ioloop.stop()

        self._stop_when = done
        timer = ioloop.call_later(timeout, expire)
        try:
            ioloop.start()
        finally:
            ioloop.remove_timeout(timer)
            self._stop_when = lambda: True

    def _drop(self) -> None:
        """Forget the connection, closing it politely if it is still open."""
        connection, self._connection = self._connection, None
        self._channel = None
        self._ready = False
        if connection is None:
            return
        if connection.is_open:
            # Not while opening: pika aborts the handshake itself at its stack timeout.
            connection.close()
        if not connection.is_closed:
            self._connection = connection
            self._failure = None
            self._run(lambda: connection.is_closed, _CLOSE_TIMEOUT_S)
            self._connection = None
        connection.ioloop.close()


def listen(
    url: str,
    exchange: str,
    bindings: Sequence[str],
    *,
    queue: str | None = None,
    count: int | None = None,
    on_message: Callable[[Delivery], None],
    on_ready: Callable[[str], None] | None = None,
    idle_timeout: float | None = None,
    connect_timeout: float = 5.0,
) -> int:
    """Consume the exchange's messages that match `bindings`, acknowledging each after
    `on_message`; stop after `count` messages, or `idle_timeout` seconds without one.

    The queue is exclusive and deleted on disconnect, or, when `queue` is named, durable so
    messages wait for the next run. `on_ready` gets the queue's name once it is bound. Returns
    how many messages were handled."""
    parameters = _parameters(url, connect_timeout)
    where = f"{redacted(url)} exchange {exchange}"
    handled = 0
    try:
        connection = pika.BlockingConnection(parameters)
    except (pika.exceptions.AMQPError, OSError) as error:
        raise ListenFailed(f"cannot reach {where}: {_describe(error)}") from error
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, exchange_type=EXCHANGE_TYPE, durable=True)
        if queue:
            declared = channel.queue_declare(queue, durable=True)
        else:
            declared = channel.queue_declare("", exclusive=True, auto_delete=True)
        name = declared.method.queue
        for binding in bindings:
            channel.queue_bind(name, exchange, routing_key=binding)
        channel.basic_qos(prefetch_count=100)
        if on_ready is not None:
            on_ready(name)
        if count is not None and count <= 0:
            return 0
        for method, properties, body in channel.consume(name, inactivity_timeout=idle_timeout):
            if method is None:  # idle for idle_timeout seconds
                break
            stamp = properties.timestamp
            on_message(
                Delivery(
                    routing_key=method.routing_key,
                    message_id=properties.message_id,
                    type=properties.type,
                    timestamp=datetime.fromtimestamp(stamp, UTC) if stamp is not None else None,
                    body=body,
                    redelivered=bool(method.redelivered),
                )
            )
            channel.basic_ack(method.delivery_tag)
            handled += 1
            if count is not None and handled >= count:
                break
        return handled
    except (pika.exceptions.AMQPError, OSError) as error:
        raise ListenFailed(f"lost {where}: {_describe(error)}") from error
    finally:
        if connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                connection.close()
