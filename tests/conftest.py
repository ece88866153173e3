"""Fixtures: real databases, apps on each backend, signed tokens, fresh tenants."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import jwt
import pika
import pika.exceptions
import pytest
import time_machine
from werkzeug.serving import make_server

from tests.backends import (
    AMQP_URL,
    BACKENDS,
    CHOSEN_BACKENDS,
    MEMORY,
    create_cosmos_database,
    create_database,
    unavailable,
)
from tests.clocks import CLOCKS
from tests.cosmos_emulator import Emulator, EmulatorUnavailable, start_emulator
from tests.private_mariadb import PrivateMariaDB, PrivateMariaDBUnavailable, private_mariadb
from tests.private_rabbitmq import PrivateRabbitMQ, PrivateRabbitMQUnavailable
from time_tracker_api import create_app
from time_tracker_api.config import TEST_JWT_SECRET, config_for_tests

TEST_SECRET = TEST_JWT_SECRET
ADMIN = "time-tracker-admin"
TESTER = "time-tracker-tester"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "also_in_process: run the module's database tests on the memory backend too"
    )
    config.addinivalue_line(
        "markers",
        "sampled(**values): on the sampling backends run only the cases with these parameter"
        " values (SQLite and memory run them all)",
    )


# Matrices of clocks, time zones and page lengths prove rules that sit above storage: time
# windows, daylight saving time, paging arithmetic, all in the domain and tested there too
# (tests/unit). SQLite and the memory backend run every case of such a matrix; on these
# backends a test over `clock` runs under SAMPLED_CLOCKS, and one marked `sampled(...)` only
# for the values it names: each backend still stores and reads every kind of moment the
# matrix makes (midnight, a DST change, the turn of a year), in fewer combinations.
SAMPLING_BACKENDS = frozenset({"postgresql", "mariadb", "cosmos"})
SAMPLED_CLOCKS = ("just-after-midnight-utc", "berlin-dst-change", "new-years-eve")


def sampled_out(item: pytest.Item) -> bool:
    """Whether a case of a matrix is left to the fully run backends (see SAMPLING_BACKENDS)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if params.get("database") not in SAMPLING_BACKENDS:
        return False
    if "clock" in params and params["clock"] not in SAMPLED_CLOCKS:
        return True
    marker = item.get_closest_marker("sampled")
    kept = marker.kwargs if marker else {}
    return any(name in params and params[name] not in values for name, values in kept.items())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, left = [], []
    for item in items:
        (left if sampled_out(item) else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.hookimpl(tryfirst=True)  # before the fixtures' own parameters: ids start with it
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that needs `database` on every backend (and on memory too in modules
    marked `also_in_process`), or on those of TEST_BACKENDS; a test or module that chooses its
    own database keeps it."""
    if "database" not in metafunc.fixturenames or hasattr(metafunc.module, "database"):
        return
    if any("database" in _argnames(m) for m in metafunc.definition.iter_markers("parametrize")):
        return
    backends = CHOSEN_BACKENDS or BACKENDS
    if not CHOSEN_BACKENDS and metafunc.definition.get_closest_marker("also_in_process"):
        backends = (*BACKENDS, MEMORY)
    metafunc.parametrize("database", backends, indirect=True, scope="session")


def _argnames(mark: pytest.Mark) -> list[str]:
    names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
    return [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)


@pytest.fixture(scope="session")
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A database on each backend, shared by the session (tests use their own tenants)."""
    if request.param == "cosmos":
        db = create_cosmos_database(request.getfixturevalue("cosmos_emulator"))
    else:
        db = create_database(request.param, tmp_path_factory.mktemp(request.param))
    yield db
    db.drop()


@pytest.fixture(scope="session")
def cosmos_emulator() -> Iterator[Emulator]:
    """The Cosmos DB emulator (or TEST_COSMOS_ENDPOINT), shared by the session."""
    try:
        emulator = start_emulator()
    except EmulatorUnavailable as error:
        unavailable("cosmos", error)
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def private_mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    """A MariaDB server of the session's own on a free port (not 3306), stopped at the end."""
    stack = ExitStack()
    try:
        server = stack.enter_context(private_mariadb(tmp_path_factory.mktemp("mariadb")))
    except PrivateMariaDBUnavailable as error:
        unavailable("private mariadb", error)
    with stack:
        yield server


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The shared RabbitMQ (TEST_AMQP_URL, or the local one on 5672), reached once."""
    parameters = pika.URLParameters(AMQP_URL)
    parameters.socket_timeout = parameters.stack_timeout = 5
    parameters.connection_attempts = 1
    try:
        pika.BlockingConnection(parameters).close()
    except (pika.exceptions.AMQPError, OSError) as error:
        # pika's connection errors say nothing in str(): their repr names the cause.
        unavailable("rabbitmq", ConnectionError(repr(error)))
    return AMQP_URL


@pytest.fixture
def amqp_exchange(amqp_url: str) -> Iterator[str]:
    """An exchange name of the test's own on the shared broker, deleted after the test."""
    name = f"tt-test.{uuid.uuid4().hex[:12]}"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        connection.channel().exchange_delete(name)
    finally:
        connection.close()


@pytest.fixture(scope="session")
def private_rabbitmq_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRabbitMQ]:
    """A RabbitMQ node of the session's own on free ports, stopped at the end."""
    try:
        node = PrivateRabbitMQ(tmp_path_factory.mktemp("rabbitmq"))
    except PrivateRabbitMQUnavailable as error:
        unavailable("private rabbitmq", error)
    try:
        node.start()
    except PrivateRabbitMQUnavailable as error:
        node.kill()
        unavailable("private rabbitmq", error)
    try:
        yield node
    finally:
        node.kill()  # its data is temporary: nothing needs a clean stop


@pytest.fixture
def private_rabbitmq(private_rabbitmq_node: PrivateRabbitMQ) -> PrivateRabbitMQ:
    """The session's private RabbitMQ node, running when the test starts; the test may
    `stop()` and `start()` it (a broker restart) and connect with its `url`."""
    private_rabbitmq_node.start()
    return private_rabbitmq_node


@pytest.fixture(scope="session")
def app(database: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The API on the session's database, schema migrated at start."""
    instance = tmp_path_factory.mktemp("instance")
    application = create_app(config_for_tests(database.settings, instance))
    yield application
    engine = getattr(application.extensions["storage"], "engine", None)
    if engine is not None:
        engine.dispose()


def app_of_the_module() -> Any:
    """An `app` fixture for a module whose tests relay changes: on Cosmos DB, the API on a
    database of the module's own (elsewhere the session's app). The relay reads every tenant's
    changes, which the emulator does by reading every document of each container: on the
    session's database, filled by every test before, that cost seconds a test.

    Use as `app = app_of_the_module()` at the top of the module."""

    @pytest.fixture(scope="module")
    def app(
        app: Any,  # the session's, which this one stands in for
        database: Any,
        request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> Iterator[Any]:
        if database.backend != "cosmos":
            yield app
            return
        own = create_cosmos_database(request.getfixturevalue("cosmos_emulator"))
        config = config_for_tests(own.settings, tmp_path_factory.mktemp("instance"))
        yield create_app(config)
        own.drop()

    return app


@pytest.fixture
def storage(app: Any) -> Any:
    return app.extensions["storage"]


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture(params=list(CLOCKS))
def clock(request: pytest.FixtureRequest) -> Iterator[datetime]:
    """ "Now" for a time-sensitive test: the real clock, or one of tests/clocks.py, ticking."""
    moment = CLOCKS[request.param]
    if moment is None:
        yield datetime.now(UTC)
        return
    with time_machine.travel(moment, tick=True):
        yield moment


@pytest.fixture
def tenant() -> str:
    """A tenant of its own for each test: tenancy keeps tests apart on a shared database."""
    return f"tenant-{uuid.uuid4()}"


def make_token(
    tenant_id: str,
    user_id: str | None = None,
    groups: tuple[str, ...] = (),
    secret: str | None = None,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload = {
        "oid": user_id or f"user-{uuid.uuid4()}",
        "tid": tenant_id,
        "email": claims.pop("email", None) or f"{user_id or 'someone'}@example.com",
        "iat": now,
        "exp": now + 600,
        "roles": list(groups),
        **claims,
    }
    return jwt.encode(payload, secret or TEST_SECRET, algorithm="HS256")


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid payload of a fresh user in a fresh tenant; a claim given as None is left out."""
    now = int(time.time())
    payload = {
        "oid": f"user-{uuid.uuid4()}",
        "tid": f"tenant-{uuid.uuid4()}",
        "iat": now,
        "exp": now + 600,
        **overrides,
    }
    return {name: value for name, value in payload.items() if value is not None}


def hs256(payload: dict[str, Any], secret: str = TEST_SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


class Caller:
    """A test client that speaks as one user of one tenant."""

    def __init__(
        self,
        client: Any,
        tenant_id: str,
        user_id: str,
        groups: tuple[str, ...] = (),
        **claims: Any,
    ):
        self.client = client
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.groups = groups
        self.claims = claims

    @property
    def token(self) -> str:
        # Minted per request, so that a test under a frozen clock sends a token valid then.
        return make_token(self.tenant_id, self.user_id, self.groups, **self.claims)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def __getattr__(self, method: str) -> Any:
        send = getattr(self.client, method)

        def call(path: str, **kwargs: Any) -> Any:
            kwargs.setdefault("headers", {}).update(self.headers())
            return send(path, **kwargs)

        return call


def change_customers_quickly(admin: Caller, count: int) -> None:
    """Create `count` customers and change each three times in quick succession (two updates,
    then the archive): four change events a customer."""
    for number in range(count):
        customer = admin.post("/customers", json={"name": f"Customer {number}"}).json["id"]
        for description in ("first", "second"):
            changed = admin.put(f"/customers/{customer}", json={"description": description})
            assert changed.status_code == 200, changed.json
        assert admin.delete(f"/customers/{customer}").status_code == 204


@pytest.fixture
def webhooks_removed(storage: Any) -> Iterator[list[str]]:
    """Tenants (appended by the test) whose webhooks go when the test ends, their pending
    deliveries with them: no later test's dispatcher sends them."""
    from commons.domain.principal import ADMIN_GROUP, Principal
    from commons.services import webhooks

    tenants: list[str] = []
    yield tenants
    for tenant_id in tenants:
        principal = Principal(tenant_id, "cleanup", groups=frozenset({ADMIN_GROUP}))
        for webhook in webhooks.list_webhooks(storage, principal):
            webhooks.delete_webhook(storage, principal, webhook.id)


@pytest.fixture
def admin(client: Any, tenant: str) -> Caller:
    return Caller(client, tenant, f"admin-{uuid.uuid4().hex[:8]}", (ADMIN,))


@pytest.fixture
def member(client: Any, tenant: str) -> Caller:
    return Caller(client, tenant, f"member-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def stranger(client: Any) -> Caller:
    """An admin of another tenant."""
    return Caller(client, f"tenant-{uuid.uuid4()}", f"stranger-{uuid.uuid4().hex[:8]}", (ADMIN,))


@pytest.fixture(scope="session")
def served(app: Any) -> Iterator[str]:
    """The app served over HTTP on a free loopback port, for parallel requests."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def make_client(tmp_path: Any) -> Iterator[Any]:
    """Test clients of apps on one SQLite file, each with the given configuration changes."""
    apps = []

    def make(**changes: Any) -> Any:
        config = config_for_tests(f"sqlite:///{tmp_path / 'time_tracker.db'}", tmp_path / "i")
        apps.append(create_app(dataclasses.replace(config, **changes)))
        return apps[-1].test_client()

    yield make
    for app in apps:
        app.extensions["storage"].engine.dispose()
