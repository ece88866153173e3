"""Gunicorn settings used when `PROMETHEUS_MULTIPROC_DIR` is set (docker-entrypoint.sh)."""

from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    """Drop the live gauges of a worker that exited from the shared metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
