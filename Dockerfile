# syntax=docker/dockerfile:1
# The Time Tracker API: gunicorn serving `time_tracker_api:create_app()` in production mode.
#
#   docker build -t time-tracker-api .
#   docker run --rm time-tracker-api migrate                 # schema migrations, then exit
#   docker run -p 8000:8000 -e SQL_DATABASE_URI=... -e JWT_ISSUER=... time-tracker-api
#
# The entrypoint takes `serve` (the default), `migrate`, `migrate-and-serve` or any other command
# (docker-entrypoint.sh). Configuration comes from the environment; see .env.template.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: the pinned production requirements in a virtualenv that the runtime stage copies.
# Every requirement ships manylinux wheels for amd64 and arm64, so nothing compiles and no
# compiler or -dev package is needed; --only-binary makes a missing wheel fail the build
# instead of quietly pulling in a source build.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements/time_tracker_api/prod.txt /tmp/requirements/prod.txt
# The lock pins every package with its hashes, pip and setuptools too (current releases).
RUN /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r /tmp/requirements/prod.txt

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="Time Tracker API" \
      org.opencontainers.image.licenses="MIT"

# pyodbc's wheel links against the system's unixODBC (libodbc.so.2) and loads drivers through
# it at run time: `unixodbc` brings the library, `odbc-mariadb` the "MariaDB Unicode" driver
# (registered in /etc/odbcinst.ini) for mariadb+pyodbc:// URLs. PostgreSQL needs nothing here:
# psycopg's binary wheel carries its own libpq.
RUN apt-get update \
    && apt-get install -y --no-install-recommends unixodbc odbc-mariadb \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric user, so orchestrators can verify runAsNonRoot; its home is writable.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
       --shell /usr/sbin/nologin app

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/app \
    APP_ENV=production \
    INSTANCE_PATH=/app/instance \
    PORT=8000 \
    GUNICORN_WORKERS=2 \
    GUNICORN_THREADS=8

WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY commons/ commons/
COPY migrations/ migrations/
COPY time_tracker_api/ time_tracker_api/
COPY cli.py wsgi.py pyproject.toml ./
COPY --chmod=0755 docker-entrypoint.sh ./
# Bytecode compiled now (the code is read-only to the app user); the instance folder is the
# only place the app may write to.
RUN python -m compileall -q commons migrations time_tracker_api cli.py wsgi.py \
    && mkdir -p /app/instance \
    && chown app:app /app/instance

USER 10001:10001
EXPOSE 8000

# /health answers 200 while the process is up; urllib raises (exit 1) on anything else. No proxy:
# an HTTP_PROXY given to the container must not carry a request meant for the loopback.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request as r; r.build_opener(r.ProxyHandler({})).open('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"

ENTRYPOINT ["/app/docker-entrypoint.sh"]
CMD ["serve"]
