"""Slow clients against the production server: do they stop everybody else?

Starts the API as the image does (`docker-entrypoint.sh serve`, APP_ENV=production) on a
migrated SQLite database in a temporary folder, on a free loopback port, then measures an
authenticated `GET /activities` client:

- idle: one client alone, one request after another, for --seconds;
- slow: the same while --slow connections trickle a POST body (one byte every 2 s);
- throughput: --clients concurrent clients and no slow clients, requests per second (and wrk's
  keep-alive figure with 16 connections when wrk is installed).

Everything is bounded (connection count, seconds, a 20 s timeout per request) and stops by
itself. Loopback only.

    .venv/bin/python -m bench.slow_clients                 # the entrypoint's server
    .venv/bin/python -m bench.slow_clients --server gthread  # gunicorn's gthread worker
    .venv/bin/python -m bench.slow_clients --server waitress # one waitress process
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET = "a-bench-secret-for-slow-clients-0123456789abcdef"
REQUEST_TIMEOUT = 20.0
TRICKLE_EVERY = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_command(server: str, port: int) -> list[str]:
    """The server to measure: the entrypoint's, or one of the options compared."""
    workers = os.environ.get("GUNICORN_WORKERS", "2")
    threads = os.environ.get("GUNICORN_THREADS", "8")
    if server == "entrypoint":
        return [str(REPO_ROOT / "docker-entrypoint.sh"), "serve"]
    if server == "waitress":
        # One waitress process (no process manager), as many threads as gunicorn's workers.
        return [
            *(sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}"),
            *("--threads", str(int(workers) * int(threads)), "--call"),
            "time_tracker_api:create_app",
        ]
    worker_class = {"gthread": "gthread", "buffered": "time_tracker_api.serving.Worker"}[server]
    return [
        *(sys.executable, "-m", "gunicorn", "time_tracker_api:create_app()"),
        *("--bind", f"127.0.0.1:{port}", "--workers", workers, "--threads", threads),
        *("--worker-class", worker_class, "--no-control-socket", "--reuse-port"),
    ]


def wait_until_up(port: int, process: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server stopped while starting")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def trickle(port: int, stop: threading.Event, opened: list[int]) -> None:
    """One slow client: headers, then one byte of a declared 10 kB body every 2 s."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return
    try:
        sock.sendall(
            b"POST /activities HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n{"
        )
        opened.append(1)
        while not stop.wait(TRICKLE_EVERY):
            sock.sendall(b" ")
    except OSError:
        pass
    finally:
        sock.close()


def normal_client(port: int, token: str, until: float, latencies: list[float], errors: list[str]):
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
            connection.request("GET", "/activities", headers=headers)
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status != 200:
                errors.append(str(response.status))
                continue
        except OSError as error:
            errors.append(type(error).__name__)
            continue
        latencies.append(time.monotonic() - started)


def measure(port: int, token: str, seconds: float, clients: int) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []
    until = time.monotonic() + seconds
    started = time.monotonic()
    threads = [
        threading.Thread(target=normal_client, args=(port, token, until, latencies, errors))
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies) or [float("nan")]
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "req_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[max(int(len(ordered) * 0.95) - 1, 0)] * 1000, 1),
    }


def wrk_throughput(port: int, token: str, seconds: float, clients: int) -> float | None:
    """Keep-alive requests per second from wrk (16 connections), if wrk is installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    result = subprocess.run(  # noqa: S603 (a fixed command of this script)
        [wrk, "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--timeout", "20s"]
        + ["-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}/activities"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    found = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if non_2xx:
        raise SystemExit(f"wrk got {non_2xx.group(1)} errors")
    return float(found.group(1)) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--server", choices=["entrypoint", "gthread", "buffered", "waitress"], default="entrypoint"
    )
    parser.add_argument("--slow", type=int, default=64, help="slow connections (at most 256)")
    parser.add_argument("--seconds", type=float, default=10, help="per measurement (at most 60)")
    parser.add_argument("--clients", type=int, default=8, help="throughput clients (at most 32)")
    args = parser.parse_args()
    slow = min(args.slow, 256)
    seconds = min(args.seconds, 60)
    clients = min(args.clients, 32)

    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = {
            **os.environ,
            "APP_ENV": "production",
            "JWT_SECRET_KEY": SECRET,
            "SQL_DATABASE_URI": f"sqlite:///{folder}/bench.db",
            "INSTANCE_PATH": f"{folder}/instance",
            "HOME": folder,
            "PORT": str(port),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        }
        run = {"cwd": REPO_ROOT, "env": env, "check": True, "capture_output": True, "text": True}
        subprocess.run([sys.executable, "cli.py", "migrate"], **run)  # type: ignore[call-overload]
        token = subprocess.run(  # type: ignore[call-overload]
            [sys.executable, "cli.py", "create_token", "--tenant-id", "bench", "--user-id", "me"],
            **run,
        ).stdout.strip()
        with open(f"{folder}/server.log", "wb") as log:
            server = subprocess.Popen(  # noqa: S603 (a fixed command of this script)
                server_command(args.server, port), cwd=REPO_ROOT, env=env, stdout=log, stderr=log
            )
        try:
            wait_until_up(port, server)
            results = {"server": args.server, "slow": slow, "seconds": seconds}
            results["throughput"] = measure(port, token, seconds, clients)
            results["wrk_keepalive_req_per_s"] = wrk_throughput(port, token, seconds, 16)
            results["idle"] = measure(port, token, seconds, 1)
            stop = threading.Event()
            opened: list[int] = []
            tricklers = [
                threading.Thread(target=trickle, args=(port, stop, opened)) for _ in range(slow)
            ]
            for thread in tricklers:
                thread.start()
            time.sleep(1)
            results["slow_connected"] = len(opened)
            results["with_slow"] = measure(port, token, seconds, 1)
            results["throughput_with_slow"] = measure(port, token, seconds, clients)
            stop.set()
            for thread in tricklers:
                thread.join(timeout=10)
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
