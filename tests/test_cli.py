"""The command line, run as `python cli.py …` in a subprocess."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import jwt
import pytest
import sqlalchemy as sa

from tests.processes import REPO_ROOT, assert_one_error_line, clean_env, run_cli
from time_tracker_api import create_app
from time_tracker_api.config import DEV_SECRET_FILE, Config

POSTMAN_V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
COMMAND_OPTIONS = {
    "gen_swagger_json": ["--file"],
    "gen_postman_collection": ["--file", "--base-url"],
    "migrate": ["--revert-latest"],
    "create_token": ["--tenant-id", "--user-id", "--email", "--role", "--expires-in"],
}
IDENTITY = ["--tenant-id", "tenant-a", "--user-id", "user-a"]
MIGRATIONS = sorted(path.stem for path in (REPO_ROOT / "migrations").glob("[0-9]*.py"))
CATALOG_TABLES = {"activity", "customer", "project_type", "project", "technology", "users"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No product variables set; the instance folder is a fresh temporary one."""
    return clean_env(tmp_path / "instance")


def cli(*args: str, env: dict[str, str]) -> str:
    """Run a command that must succeed; its stdout."""
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


# --help and bad arguments


def test_help_lists_every_command(env):
    output = cli("--help", env=env)
    for command in COMMAND_OPTIONS:
        assert command in output


@pytest.mark.parametrize("command", sorted(COMMAND_OPTIONS))
def test_each_command_has_help_that_names_its_options(command, env):
    output = cli(command, "--help", env=env)
    for option in COMMAND_OPTIONS[command]:
        assert option in output


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["bogus"], id="unknown command"),
        pytest.param(["gen_swagger_json", "--bogus"], id="unknown option"),
        pytest.param(["create_token", "--user-id", "u"], id="create_token without --tenant-id"),
        pytest.param(["create_token", *IDENTITY, "--role", "superuser"], id="unknown role"),
        pytest.param(["create_token", *IDENTITY, "--expires-in", "abc"], id="non-numeric lifetime"),
        pytest.param(["create_token", *IDENTITY, "--expires-in", "0"], id="zero lifetime"),
    ],
)
def test_a_bad_argument_gets_one_clear_line_and_a_non_zero_exit(args, env):
    line = assert_one_error_line(run_cli(*args, env=env), starts_with="cli.py")
    assert "error" in line


# gen_swagger_json


def swagger(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(cli("gen_swagger_json", env=env))


def test_gen_swagger_json_prints_a_swagger_2_document(env):
    document = swagger(env)
    assert document["swagger"] == "2.0"
    assert "/activities" in document["paths"]
    bearer = document["securityDefinitions"]["Bearer"]
    assert bearer["in"] == "header"
    assert bearer["name"] == "Authorization"


def test_gen_swagger_json_writes_the_same_document_to_a_file(env, tmp_path):
    target = tmp_path / "swagger.json"
    assert cli("gen_swagger_json", "-f", str(target), env=env) == ""
    assert json.loads(target.read_text()) == swagger(env)


def test_gen_swagger_json_to_an_unwritable_path_fails_with_one_line(env, tmp_path):
    # A directory cannot be opened for writing, even by root.
    result = run_cli("gen_swagger_json", "-f", str(tmp_path), env=env)
    line = assert_one_error_line(result, starts_with="cli.py")
    assert str(tmp_path) in line


# gen_postman_collection


def requests_of(collection: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(folder name, request) for every request in the collection."""
    return [
        (folder["name"], item["request"])
        for folder in collection["item"]
        for item in folder["item"]
    ]


def operations_of(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(tag, METHOD, path with :params) for every operation in the Swagger document."""
    return [
        (
            (operation.get("tags") or ["default"])[0],
            method.upper(),
            re.sub(r"\{(\w+)\}", r":\1", path),
        )
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in HTTP_METHODS
    ]


@pytest.fixture
def postman(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    target = tmp_path / "collection.json"
    cli("gen_postman_collection", "-f", str(target), "-b", "{{host}}", env=env)
    return json.loads(target.read_text())


def test_gen_postman_collection_writes_a_v2_1_collection(postman):
    assert postman["info"]["schema"] == POSTMAN_V21
    assert postman["info"]["name"]
    assert postman["info"]["_postman_id"]


def test_the_collection_has_one_folder_per_tag(postman, env):
    tags = {tag for tag, _, _ in operations_of(swagger(env))}
    folders = [folder["name"] for folder in postman["item"]]
    assert sorted(folders) == sorted(tags)


def test_the_collection_has_every_operation_exactly_once_in_its_tag_folder(postman, env):
    in_collection = Counter(
        (folder, request["method"], request["url"]["raw"].removeprefix("{{host}}"))
        for folder, request in requests_of(postman)
    )
    assert in_collection == Counter(operations_of(swagger(env)))


def test_collection_urls_start_with_the_placeholder_and_name_path_parameters(postman):
    raws = [request["url"]["raw"] for _, request in requests_of(postman)]
    assert all(raw.startswith("{{host}}/") for raw in raws)
    assert not any("{" in raw.removeprefix("{{host}}") for raw in raws)
    assert "{{host}}/activities/:id" in raws
    for _, request in requests_of(postman):
        parameters = re.findall(r"/:(\w+)", request["url"]["raw"])
        variables = [variable["key"] for variable in request["url"]["variable"]]
        assert sorted(variables) == sorted(parameters)


# migrate


def schema_of(url: str) -> dict[str, Any]:
    """Tables with their columns and indexes, and the recorded migrations."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        tables = {
            table: (
                sorted(column["name"] for column in inspector.get_columns(table)),
                sorted(index["name"] for index in inspector.get_indexes(table)),
            )
            for table in inspector.get_table_names()
            if table != "migrations"
        }
        with engine.connect() as connection:
            applied = connection.execute(
                sa.text("SELECT name, applied_at FROM migrations ORDER BY name")
            ).all()
        return {"tables": tables, "applied": [tuple(row) for row in applied]}
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, "SQL_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"}


def test_migrate_creates_the_tables_and_records_each_migration(sqlite_env):
    cli("migrate", env=sqlite_env)
    schema = schema_of(sqlite_env["SQL_DATABASE_URI"])
    assert set(schema["tables"]) >= CATALOG_TABLES
    assert [name for name, _ in schema["applied"]] == MIGRATIONS


def test_migrating_twice_changes_nothing(sqlite_env):
    cli("migrate", env=sqlite_env)
    before = schema_of(sqlite_env["SQL_DATABASE_URI"])
    cli("migrate", env=sqlite_env)
    assert schema_of(sqlite_env["SQL_DATABASE_URI"]) == before


def test_revert_latest_undoes_the_latest_migration_and_migrate_restores_it(sqlite_env):
    url = sqlite_env["SQL_DATABASE_URI"]
    cli("migrate", env=sqlite_env)
    migrated = schema_of(url)

    cli("migrate", "--revert-latest", env=sqlite_env)
    reverted = schema_of(url)
    assert [name for name, _ in reverted["applied"]] == MIGRATIONS[:-1]
    # What the latest migration's down() changes is checked in tests/integration on every
    # backend; on SQLite it may change nothing (0005 only changes MariaDB's collations).
    if len(MIGRATIONS) == 1:
        assert reverted["tables"] == {}

    cli("migrate", env=sqlite_env)
    restored = schema_of(url)
    assert restored["tables"] == migrated["tables"]
    assert [name for name, _ in restored["applied"]] == MIGRATIONS


def test_migrate_against_an_unreachable_database_fails_with_one_line(env):
    unreachable = {**env, "SQL_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/x"}
    line = assert_one_error_line(run_cli("migrate", env=unreachable), starts_with="cli.py")
    assert "cannot be reached" in line


# create_token


def test_create_token_without_a_secret_uses_the_development_secret_of_the_instance(env):
    token = cli("create_token", *IDENTITY, env=env).strip()
    secret = (Path(env["INSTANCE_PATH"]) / DEV_SECRET_FILE).read_text().strip()
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert (claims["tid"], claims["oid"]) == ("tenant-a", "user-a")


def test_a_development_token_is_accepted_by_a_development_app_and_carries_its_role(env):
    token = cli("create_token", *IDENTITY, "--role", "admin", env=env).strip()
    config = Config.from_env({"APP_ENV": "development", "INSTANCE_PATH": env["INSTANCE_PATH"]})
    app = create_app(config)
    try:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/activities", headers=headers).status_code == 200
        created = client.post("/activities", json={"name": "Development"}, headers=headers)
        assert created.status_code == 201, created.json
        assert created.json["tenant_id"] == "tenant-a"
    finally:
        app.extensions["storage"].engine.dispose()


def test_create_token_puts_the_given_identity_and_role_in_the_claims(env):
    args = [*IDENTITY, "--email", "a@example.com", "--role", "tester"]
    claims = jwt.decode(
        cli("create_token", *args, env=env).strip(), options={"verify_signature": False}
    )
    assert claims["oid"] == "user-a"
    assert claims["tid"] == "tenant-a"
    assert claims["email"] == "a@example.com"
    assert claims["roles"] == ["time-tracker-tester"]


def test_create_token_signs_with_jwt_secret_key_when_it_is_set(env):
    signed = {**env, "JWT_SECRET_KEY": "a-secret-for-this-test-only-0123456789"}
    token = cli("create_token", *IDENTITY, env=signed).strip()
    claims = jwt.decode(token, signed["JWT_SECRET_KEY"], algorithms=["HS256"])
    assert claims["tid"] == "tenant-a"
    assert not (Path(env["INSTANCE_PATH"]) / DEV_SECRET_FILE).exists()


@pytest.mark.parametrize("seconds", [1, 3600])
def test_create_token_expires_after_the_given_number_of_seconds(seconds, env):
    token = cli("create_token", *IDENTITY, "--expires-in", str(seconds), env=env).strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == seconds
