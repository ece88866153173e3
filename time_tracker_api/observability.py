"""Operations: request ids, structured logs, one access line per request, Prometheus metrics
and the security headers every answer carries (docs/observability.md)."""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Flask, Response, current_app, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pythonjsonlogger.json import JsonFormatter

from commons.data_access_layer.ports import Storage
from commons.domain.exceptions import StorageUnavailable
from time_tracker_api.errors import body

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
access_logger = logging.getLogger("time_tracker_api.access")
logger = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "time_tracker_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "time_tracker_http_request_duration_seconds",
    "Time spent answering HTTP requests, by method, route template and status.",
    ["method", "route", "status"],
)
RATE_LIMIT_REFUSALS = Counter(
    "time_tracker_rate_limit_refusals_total",
    "Requests refused with 429 by the rate limit, by route template.",
    ["route"],
)
DELIVERIES = Counter(
    "time_tracker_deliveries_total",
    "Deliveries of change events, by sink (webhooks, amqp) and outcome (delivered, failed).",
    ["sink", "outcome"],
)


class OutboxCollector(Collector):
    """The outbox gauges, read from the storage at each scrape (by the scraping process only:
    they describe the database, which every worker shares)."""

    def __init__(self, storage: Storage):
        self.storage = storage

    def collect(self) -> Iterator[Metric]:
        """The gauges; none when the storage cannot say (logged), so that the scrape answers."""
        try:
            status = self.storage.outbox_status()
        except Exception as error:  # noqa: BLE001 - a scrape must answer whatever the storage does
            reason = (
                error.detail or error.message if isinstance(error, StorageUnavailable) else error
            )
            logger.warning("The outbox gauges are left out of this scrape: %s", reason)
            return
        age = 0.0
        if status.oldest_pending_at is not None:
            age = max(0.0, (datetime.now(UTC) - status.oldest_pending_at).total_seconds())
        yield GaugeMetricFamily(
            "time_tracker_outbox_pending",
            "Changes waiting to be recorded in the audit log, of every tenant.",
            value=status.pending,
        )
        yield GaugeMetricFamily(
            "time_tracker_outbox_parked",
            "Changes parked after their last retry failed, waiting for an operator.",
            value=status.parked,
        )
        yield GaugeMetricFamily(
            "time_tracker_outbox_oldest_pending_age_seconds",
            "Age of the oldest change waiting for the audit log (0: none waits).",
            value=age,
        )


def count_deliveries(sink: str, outcome: str, count: int) -> None:
    """The dispatcher's observer (`Dispatcher(observe=...)`): counts deliveries by outcome."""
    if count:
        DELIVERIES.labels(sink, outcome).inc(count)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (or None outside a request) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of `LOG_FORMAT`: one JSON object a line, or readable text."""
    if log_format == "json":
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(log_format: str) -> None:
    """Log to stderr in `log_format` unless logging is set up already; every root handler gets
    the request id filter (idempotent)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO)
        root.handlers[0].setFormatter(formatter(log_format))
    for handler in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())


def init_app(app: Flask, metrics_token: str | None) -> None:
    """Assign request ids, log and count every answer, add the headers, serve `/metrics`."""

    @app.before_request
    def start_request() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def finish_request(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if "Authorization" in request.headers:
            response.headers["Cache-Control"] = "no-store"
        _record(response, request_id)
        return response

    app.add_url_rule("/metrics", "metrics", _metrics_view(metrics_token), methods=["GET"])


def _record(response: Response, request_id: str) -> None:
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    rule = request.url_rule.rule if request.url_rule is not None else None
    route = rule or "unmatched"
    status = str(response.status_code)
    HTTP_REQUESTS.labels(request.method, route, status).inc()
    HTTP_DURATION.labels(request.method, route, status).observe(seconds)
    if response.status_code == 429:
        RATE_LIMIT_REFUSALS.labels(route).inc()
    principal = g.get("principal")
    access_logger.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "route": rule,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 3),
            "request_id": request_id,
            "tenant_id": getattr(principal, "tenant_id", None),
            "user_id": getattr(principal, "user_id", None),
        },
    )


def _metrics_view(token: str | None):  # type: ignore[no-untyped-def]
    def metrics() -> Response:
        """The Prometheus metrics of this process, or of every gunicorn worker."""
        if token is not None:
            sent = request.headers.get("Authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
                return body(401, "A valid metrics token is required", "unauthorized")
        registry = _registry(current_app.extensions["storage"])
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    return metrics


def _registry(storage: Storage) -> CollectorRegistry:
    """A registry for one scrape: this process's metrics, or every worker's (summed from their
    files), and the outbox gauges read now, by this process alone."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    registry.register(OutboxCollector(storage))
    return registry
