"""A gunicorn worker that reads whole requests before a thread handles them.

gunicorn's `gthread` worker hands a connection to a thread as soon as it is readable, and the
thread then reads the headers and the body: a client that sends its body one byte at a time
holds a thread for as long as it likes, and a few dozen of them stop every other request.
This worker keeps gunicorn as the process manager (`--workers`, `--threads`, `--reuse-port`,
signals, logs) and serves each worker's sockets with waitress, whose event loop buffers a
request completely (headers and body) before a thread of its pool runs the application. Slow
clients then cost a buffer each, never a thread.

    gunicorn 'time_tracker_api:create_app()' --worker-class time_tracker_api.serving.Worker
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

from flask import Flask
from gunicorn.workers.base import Worker as BaseWorker
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask
from werkzeug.exceptions import default_exceptions

from time_tracker_api import errors

# How long one turn of the event loop may wait, so the worker tells the arbiter it is alive and
# notices a stop signal.
LOOP_TIMEOUT = 1.0
# Bodies up to this many times the application's MAX_CONTENT_LENGTH are buffered, so that the
# application answers an oversized request with its own JSON error; larger ones are refused by
# the server before they are read.
BODY_BUFFER_FACTOR = 2
DEFAULT_MAX_BODY = 1024 * 1024 * 1024
# What a connection may hold of an answer not yet sent before the thread writing it waits.
OUTPUT_BUFFER_BYTES = 1024 * 1024

StartResponse = Callable[..., Any]


def json_channel(app: Flask) -> type[HTTPChannel]:
    """waitress's connection, answering requests it refuses itself with the API's JSON errors."""

    class JsonErrorTask(ErrorTask):
        """A malformed, oversized or unsupported request: `{message, code, errors}`."""

        def execute(self) -> None:
            code = self.request.error.code
            with app.app_context():
                if code == 413:
                    error: BaseException = errors.too_large(app.config["MAX_CONTENT_LENGTH"])
                else:
                    error = default_exceptions.get(code, default_exceptions[400])()
                response = errors.error_response(error)
            payload = response.get_data()
            self.status = response.status
            self.response_headers.extend(
                (name, value) for name, value in response.headers if name != "Content-Length"
            )
            self.set_close_on_finish()
            self.content_length = len(payload)
            self.write(payload)

    class JsonErrorChannel(HTTPChannel):
        error_task_class = JsonErrorTask

    return JsonErrorChannel


class Worker(BaseWorker):
    """gunicorn worker process serving its sockets with waitress's buffering event loop."""

    def run(self) -> None:
        server = create_server(
            self.access_logged(self.wsgi),
            sockets=[listener.sock for listener in self.sockets],
            threads=self.cfg.threads,
            connection_limit=self.cfg.worker_connections,
            max_request_body_size=self.max_body(),
            channel_timeout=max(self.cfg.timeout, 1),
            ident="",
            clear_untrusted_proxy_headers=True,
            expose_tracebacks=False,
            # A thread writing a long answer waits once this much of it is buffered, until the
            # client has read it: a streamed 25 MB list then costs a worker about this much
            # memory instead of waitress's default 16 MB per connection, and its peak grew
            # from request to request (130 MB after three, 230 MB under load).
            outbuf_high_watermark=OUTPUT_BUFFER_BYTES,
        )
        if isinstance(self.wsgi, Flask):
            for listener in list(server._map.values()):
                if isinstance(listener, BaseWSGIServer):
                    listener.channel_class = json_channel(self.wsgi)
        notified = 0.0
        while self.alive:
            now = time.monotonic()
            if now - notified >= LOOP_TIMEOUT:  # a file system call: once a second is plenty
                self.notify()
                notified = now
                if self.ppid != os.getppid():
                    self.log.info("Parent changed, shutting down: %s", self)
                    break
            wasyncore.loop(timeout=LOOP_TIMEOUT, map=server._map, use_poll=True, count=1)
        self.stop_gracefully(server)

    def max_body(self) -> int:
        limit = getattr(self.wsgi, "config", {}).get("MAX_CONTENT_LENGTH")
        return limit * BODY_BUFFER_FACTOR if limit else DEFAULT_MAX_BODY

    def stop_gracefully(self, server: Any) -> None:
        """Stop accepting, finish the requests under way (graceful timeout), then close."""
        for listener in list(server._map.values()):
            if not isinstance(listener, HTTPChannel) and getattr(listener, "accepting", False):
                listener.del_channel()
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while time.monotonic() < deadline and any(
            channel.requests or channel.total_outbufs_len
            for channel in list(server._map.values())
            if isinstance(channel, HTTPChannel)
        ):
            self.notify()
            wasyncore.loop(timeout=0.1, map=server._map, use_poll=True, count=1)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        wasyncore.close_all(server._map)

    def access_logged(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Any]:
        """`app` writing gunicorn's access log line (--access-logfile, --access-logformat)."""
        log = self.log

        def logged(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            started = time.monotonic()
            response = SimpleNamespace(status="500", headers=[], sent=0)

            def recording_start_response(status: str, headers: list, *args: Any) -> Any:
                response.status = status
                response.headers = headers
                return start_response(status, headers, *args)

            body = app(environ, recording_start_response)
            try:
                for chunk in body:
                    response.sent += len(chunk)
                    yield chunk
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
                environ.setdefault("RAW_URI", environ.get("REQUEST_URI", environ["PATH_INFO"]))
                headers = [
                    (name[5:].replace("_", "-"), value)
                    for name, value in environ.items()
                    if name.startswith("HTTP_")
                ]
                elapsed = datetime.timedelta(seconds=time.monotonic() - started)
                log.access(response, headers, environ, elapsed)

        return logged
