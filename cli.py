"""The Time Tracker command line: `python cli.py <command> --help`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any, NoReturn

ROLES = {"admin": "time-tracker-admin", "tester": "time-tracker-tester"}


class Parser(argparse.ArgumentParser):
    """An argument parser that reports a bad argument in one line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    # The Azure SDK logs every HTTP exchange at INFO; a command line shows only what matters.
    logging.getLogger("azure").setLevel(logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.error("a command is required")
    from commons.domain.exceptions import DomainError

    try:
        return args.handler(args) or 0
    except CommandError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
    except DomainError as error:
        detail = getattr(error, "detail", None) or error.message
        print(f"{parser.prog}: error: {detail}", file=sys.stderr)
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly, like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1


class CommandError(Exception):
    """A failure the user can act on; printed as one line."""


def build_parser() -> Parser:
    parser = Parser(prog="cli.py", description="Time Tracker command line")
    commands = parser.add_subparsers(title="commands", metavar="<command>", parser_class=Parser)

    swagger = commands.add_parser("gen_swagger_json", help="print or write the Swagger document")
    swagger.add_argument("-f", "--file", help="write to FILE instead of stdout")
    swagger.set_defaults(handler=gen_swagger_json)

    postman = commands.add_parser("gen_postman_collection", help="a Postman v2.1 collection")
    postman.add_argument("-f", "--file", help="write to FILE instead of stdout")
    postman.add_argument(
        "-b",
        "--base-url",
        default="{{baseUrl}}",
        help="base URL or placeholder (default {{baseUrl}})",
    )
    postman.set_defaults(handler=gen_postman_collection)

    migrate = commands.add_parser("migrate", help="apply pending migrations")
    migrate.add_argument(
        "--revert-latest", action="store_true", help="revert the latest applied migration"
    )
    migrate.set_defaults(handler=run_migrations)

    token = commands.add_parser("create_token", help="mint a development token (HS256)")
    token.add_argument("--tenant-id", required=True, help="the tenant (tid claim)")
    token.add_argument("--user-id", required=True, help="the user (oid claim)")
    token.add_argument("--email", help="the user's email")
    token.add_argument("--name", help="the user's display name")
    token.add_argument("--role", choices=sorted(ROLES), help="admin or tester")
    token.add_argument(
        "--expires-in", type=positive_int, default=8 * 3600, metavar="S", help="lifetime in seconds"
    )
    token.set_defaults(handler=create_token)

    seed = commands.add_parser(
        "seed",
        help="fill a tenant with realistic fake data, or bring what it filled up to now",
        description="Fill an empty tenant with a catalog, people and their working days up to "
        "now (entries earlier today, and a running timer for most people), in bulk. Run again "
        "on a tenant it filled (same --seed), it extends every timeline to now and writes "
        "nothing twice. Then it refreshes the database's statistics (ANALYZE).",
    )
    seed.add_argument(
        "--tenant-id", required=True, help="the tenant to fill (empty, or seeded before)"
    )
    seed.add_argument("--users", type=positive_int, required=True, help="how many people")
    seed.add_argument(
        "--days", type=positive_int, required=True, help="how many days back, today included"
    )
    seed.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    seed.add_argument(
        "--running-share",
        type=share,
        default=None,
        metavar="F",
        help="share of the people (the first ones) whose timer runs now (default 0.8)",
    )
    seed.add_argument(
        "--now",
        type=moment,
        default=None,
        metavar="ISO",
        help="the moment the timelines reach (default: now; an ISO 8601 date and time)",
    )
    seed.set_defaults(handler=seed_data)

    events = commands.add_parser("events", help="deliver change events to the audit log")
    event_commands = events.add_subparsers(
        title="event commands", metavar="<event command>", parser_class=Parser
    )
    dispatch = event_commands.add_parser(
        "dispatch",
        help="run the audit handlers on pending changes (outbox, or Cosmos changes)",
        description="Run the audit handlers on the pending changes that are due. A failed "
        "change waits longer after each failure before it is tried again (from seconds up to "
        "hours); when its last retry fails it is parked (see `events parked`).",
    )
    dispatch.add_argument("--follow", action="store_true", help="keep polling until stopped")
    dispatch.add_argument(
        "--batch-size", type=positive_int, default=100, metavar="N", help="changes per batch"
    )
    dispatch.add_argument(
        "--interval", type=positive_int, default=2, metavar="S", help="seconds between polls"
    )
    dispatch.add_argument(
        "--metrics-port",
        type=port_number,
        metavar="PORT",
        help="serve the delivery counters in the Prometheus format on this port (with --follow)",
    )
    dispatch.set_defaults(handler=dispatch_events)
    parked = event_commands.add_parser("parked", help="list changes parked after failing")
    parked.set_defaults(handler=list_parked)
    retry = event_commands.add_parser("retry", help="put parked changes back in line")
    retry.add_argument(
        "--id",
        action="append",
        dest="ids",
        metavar="ID",
        help="only this one (repeatable); an id that is not parked fails and retries nothing",
    )
    retry.set_defaults(handler=retry_parked)
    listen = event_commands.add_parser(
        "listen",
        help="print the events published to the AMQP exchange as they arrive",
        description="Bind a queue to the AMQP topic exchange (AMQP_EXCHANGE, default "
        "time_tracker.events) and print each event that arrives as one JSON line: its routing "
        "key, message id, type and body. Routing keys are <tenant_id>.<container>.<action>, "
        "each word with '%', '.', '*' and '#' escaped as %25, %2E, %2A and %23: bind "
        "'*.time_entry.*' for every tenant's time entries, '<tenant>.#' for one tenant's "
        "events. Stop with Ctrl+C.",
    )
    listen.add_argument(
        "--bind",
        action="append",
        dest="bindings",
        metavar="PATTERN",
        help="a binding pattern (repeatable; default '#', every event)",
    )
    listen.add_argument(
        "--queue",
        metavar="NAME",
        help="consume from a durable queue of this name, which keeps the events that arrive "
        "between runs (default: a private queue, deleted on exit)",
    )
    listen.add_argument("--count", type=positive_int, metavar="N", help="stop after N events")
    listen.add_argument("--amqp-url", metavar="URL", help="the broker (default: AMQP_URL)")
    listen.set_defaults(handler=listen_events)
    events.set_defaults(handler=lambda args: events.error("an event command is required"))
    return parser


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return int(value)


def port_number(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 65536:
        raise argparse.ArgumentTypeError(f"expected a TCP port from 1 to 65535, got {value!r}")
    return int(value)


def share(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {value!r}")
    return number


def moment(value: str) -> Any:
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 date and time, got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _config() -> Any:
    os.environ.setdefault("APP_ENV", "development")
    from time_tracker_api.config import Config

    config = Config.from_env()
    if config.problems:
        raise CommandError(f"set {', '.join(config.problems)}")
    return config


def _swagger() -> dict[str, Any]:
    from flask import Flask

    from time_tracker_api.api import create_api

    app = Flask("time_tracker_api")
    app.config.update(RESTX_MASK_SWAGGER=False)
    api = create_api()
    api.init_app(app)
    with app.test_request_context("/"):
        return json.loads(json.dumps(api.__schema__))


def _write(text: str, path: str | None) -> None:
    if path:
        try:
            with open(path, "w", encoding="utf-8") as file:
                file.write(text + "\n")
        except OSError as error:
            raise CommandError(f"cannot write {path}: {error.strerror}") from None
    else:
        print(text)


def gen_swagger_json(args: argparse.Namespace) -> None:
    """Print or write the Swagger 2.0 document."""
    _write(json.dumps(_swagger(), indent=2, sort_keys=True), args.file)


def gen_postman_collection(args: argparse.Namespace) -> None:
    """Print or write a Postman collection (v2.1) of every operation."""
    from time_tracker_api.postman import postman_collection

    collection = postman_collection(_swagger(), args.base_url)
    _write(json.dumps(collection, indent=2), args.file)


def run_migrations(args: argparse.Namespace) -> None:
    """Apply pending migrations, or revert the latest."""
    from commons.bootstrap import create_storage

    config = _config()
    config.instance_path.mkdir(parents=True, exist_ok=True)
    storage = create_storage(config.storage, default_sql_url=config.default_sql_url)
    storage.migrate(revert_latest=args.revert_latest)


def seed_data(args: argparse.Namespace) -> None:
    """Fill a tenant with a catalog, users and non-overlapping time entries up to now, in bulk
    (or extend the timelines it filled before), then refresh the database's statistics."""
    from commons.bootstrap import create_storage
    from commons.services.seeding import RUNNING_SHARE, seed_tenant

    config = _config()
    config.instance_path.mkdir(parents=True, exist_ok=True)
    storage = create_storage(config.storage, default_sql_url=config.default_sql_url)
    started = time.monotonic()

    def progress(written: int) -> None:
        print(f"\r{written:,} time entries written", end="", file=sys.stderr, flush=True)

    report = seed_tenant(
        storage,
        args.tenant_id,
        args.users,
        args.days,
        args.seed,
        now=args.now,
        progress=progress,
        running_share=RUNNING_SHARE if args.running_share is None else args.running_share,
    )
    elapsed = time.monotonic() - started
    if report.extended:
        print(
            f"\nExtended tenant {args.tenant_id} to now: {report.entries:,} time entries "
            f"added, {report.stopped} running entries ended, {report.running} running, "
            f"{report.users} users, in {elapsed:.1f} s",
            file=sys.stderr,
        )
    else:
        print(
            f"\nSeeded tenant {args.tenant_id}: {report.catalog} catalog records, "
            f"{report.users} users, {report.entries:,} time entries ({report.running} "
            f"running) in {elapsed:.1f} s",
            file=sys.stderr,
        )
    if config.storage.backend == "sql":
        started = time.monotonic()
        analyze_database(config.storage.sql_url or config.default_sql_url)
        print(f"Analyzed the tables in {time.monotonic() - started:.1f} s", file=sys.stderr)


def analyze_database(url: str) -> None:
    """Refresh the planner's statistics of every table after a bulk load; on PostgreSQL also
    vacuum, which sets the visibility map that index-only scans (deep pages) rely on, as
    autovacuum would some time after the load."""
    from commons.data_access_layer.sql.engine import analyze, create_sql_engine

    engine = create_sql_engine(url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT")
                connection.exec_driver_sql("VACUUM (ANALYZE)")  # not inside a transaction
            else:
                analyze(connection)
                connection.commit()
    finally:
        engine.dispose()


def _storage() -> Any:
    from commons.bootstrap import create_storage

    config = _config()
    return create_storage(config.storage, default_sql_url=config.default_sql_url)


def dispatch_events(args: argparse.Namespace) -> None:
    """Deliver the pending changes that are due to the audit log, and their deliveries to the
    webhooks and the AMQP exchange, once or (--follow) until interrupted; following, an
    unreachable database or broker is reported and tried again next poll."""
    from commons.domain.exceptions import StorageUnavailable
    from commons.services.deliveries import Dispatcher, Round, summary
    from commons.settings import OutboundSettings
    from time_tracker_api.observability import count_deliveries

    if args.metrics_port is not None and not args.follow:
        raise CommandError("--metrics-port needs --follow: a single run is over before a scrape")
    storage = _storage()
    dispatcher = Dispatcher(storage, OutboundSettings.from_env(), observe=count_deliveries)
    if args.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port)
    try:
        while True:
            started = 0
            try:
                report = dispatcher.relay(args.batch_size)
            except StorageUnavailable as error:
                if not args.follow:
                    raise
                _report_error(error.detail or error.message)
            else:
                if report.delivered or report.failed or report.parked or not args.follow:
                    print(
                        f"{report.delivered} delivered, {report.failed} failed "
                        f"(will retry), {report.parked} parked, "
                        f"{report.waiting} waiting for their next attempt",
                        file=sys.stderr,
                        flush=True,
                    )
                result = Round()
                try:
                    if args.follow:
                        started = dispatcher.step(result)
                    else:
                        result = dispatcher.run_once()
                except Exception as error:
                    if not args.follow:
                        raise CommandError(f"delivering failed: {error}") from error
                    _report_error(f"delivering failed: {error}")
                if result.total or result.errors:
                    print(summary(result), file=sys.stderr, flush=True)
                for problem in result.errors:
                    _report_error(problem)
            if not args.follow:
                return
            time.sleep(0.05 if started else args.interval)
    except KeyboardInterrupt:
        return
    finally:
        dispatcher.close()


def _report_error(message: str) -> None:
    print(f"cli.py: error: {message}", file=sys.stderr, flush=True)


def list_parked(args: argparse.Namespace) -> None:
    """Print the parked changes as JSON lines."""
    for change in _storage().parked_changes():
        print(json.dumps(change, default=str))


def retry_parked(args: argparse.Namespace) -> None:
    """Put parked changes back in line for the next dispatch."""
    count = _storage().retry_parked(args.ids)
    print(f"{count} parked changes will be retried", file=sys.stderr)


def listen_events(args: argparse.Namespace) -> int:
    """Print the events on the AMQP exchange that match the bindings, one JSON line each;
    exit 2 when no broker is configured or it cannot be reached."""
    from commons.messaging.amqp import AmqpError, Delivery, listen, redacted
    from commons.settings import OutboundSettings

    settings = OutboundSettings.from_env()
    url = args.amqp_url or settings.amqp_url
    if not url:
        print("cli.py: error: set AMQP_URL or pass --amqp-url", file=sys.stderr)
        return 2
    bindings = args.bindings or ["#"]

    def ready(queue: str) -> None:
        print(
            f"listening on {redacted(url)} exchange {settings.amqp_exchange}, queue {queue}, "
            f"bound to {' '.join(bindings)}",
            file=sys.stderr,
            flush=True,
        )

    def show(delivery: Delivery) -> None:
        try:
            body = json.loads(delivery.body)
        except ValueError:
            body = delivery.body.decode("utf-8", "replace")
        event = {
            "routing_key": delivery.routing_key,
            "message_id": delivery.message_id,
            "type": delivery.type,
            "body": body,
        }
        print(json.dumps(event), flush=True)

    try:
        listen(
            url,
            settings.amqp_exchange,
            bindings,
            queue=args.queue,
            count=args.count,
            on_message=show,
            on_ready=ready,
        )
    except AmqpError as error:
        print(f"cli.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def create_token(args: argparse.Namespace) -> None:
    """Print a token signed with JWT_SECRET_KEY (or the development secret)."""
    import jwt

    config = _config()
    if not config.jwt.secret_key:
        raise CommandError("set JWT_SECRET_KEY: this deployment verifies tokens with JWKS keys")
    now = int(time.time())
    claims: dict[str, Any] = {
        "oid": args.user_id,
        "sub": args.user_id,
        "tid": args.tenant_id,
        "iat": now,
        "nbf": now,
        "exp": now + args.expires_in,
        "jti": str(uuid.uuid4()),
    }
    if args.email:
        claims["email"] = args.email
    if args.name:
        claims["name"] = args.name
    if args.role:
        claims["roles"] = [ROLES[args.role]]
    if config.jwt.issuers:
        claims["iss"] = config.jwt.issuers[0]
    if config.jwt.audiences:
        claims["aud"] = config.jwt.audiences[0]
    print(jwt.encode(claims, config.jwt.secret_key, algorithm="HS256"))


if __name__ == "__main__":
    sys.exit(main())
