#!/usr/bin/env bash
# The API image's entrypoint (Dockerfile). Usage:
#
#   serve [GUNICORN OPTION...]              gunicorn on 0.0.0.0:$PORT (the default command)
#   migrate [--revert-latest]               bring the schema up to date (`python cli.py migrate`)
#   migrate-and-serve [GUNICORN OPTION...]  migrate, then serve
#   -OPTION...                              serve with these extra gunicorn options
#   COMMAND [ARG...]                        run anything else, e.g. `python cli.py create_token ...`
#
# GUNICORN_WORKERS (2), GUNICORN_THREADS (8) and PORT (8000) size and place the server.
# Gunicorn's access line ends with the request's id, as the answer's X-Request-ID header gives
# it (the API's JSON access line carries the same id): `--access-logformat` overrides it.
# Migrations are an explicit step: `serve` never changes the schema of a server database.
set -euo pipefail

# Run from the application folder (/app in the image, the repository root in a checkout).
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"

# gunicorn's default access format, then the request id.
ACCESS_LOG_FORMAT='%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" request_id=%({x-request-id}o)s'

serve() {
  # Workers share their Prometheus metrics through files there; a restart starts from zero.
  local hooks=()
  if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete
    hooks=(--config python:time_tracker_api.gunicorn_hooks)
  fi
  # --no-control-socket: gunicorn 27 would otherwise open a control socket under
  # $HOME/.gunicorn, which nothing in a container uses. --reuse-port: each worker listens on
  # its own socket and the kernel spreads connections evenly; with one shared socket a worker
  # could take most keep-alive connections and leave the other core idle (docs/benchmarks.md).
  # --worker-class: each worker reads whole requests in an event loop before a thread runs the
  # app, so clients that send their body slowly hold no thread (time_tracker_api/serving.py).
  exec gunicorn 'time_tracker_api:create_app()' \
    --worker-class time_tracker_api.serving.Worker \
    --bind "0.0.0.0:${PORT:-8000}" \
    --workers "${GUNICORN_WORKERS:-2}" \
    --threads "${GUNICORN_THREADS:-8}" \
    --access-logfile - \
    --access-logformat "$ACCESS_LOG_FORMAT" \
    --error-logfile - \
    --worker-tmp-dir /dev/shm \
    --no-control-socket \
    --reuse-port \
    "${hooks[@]}" \
    "$@"
}

migrate() {
  python cli.py migrate "$@"
}

if [ $# -eq 0 ] || [ "${1:0:1}" = "-" ]; then
  set -- serve "$@"
fi

command="$1"
shift
case "$command" in
  serve) serve "$@" ;;
  migrate) migrate "$@" ;;
  migrate-and-serve)
    migrate
    serve "$@"
    ;;
  *) exec "$command" "$@" ;;
esac
