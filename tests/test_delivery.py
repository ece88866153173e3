"""Delivery: the image, its entrypoint, compose, .env.template, hooks and releases.

No Docker engine runs here, so the files are checked for what they promise, and the parts that
run without Docker (the entrypoint, gunicorn, the image's health check) are run for real.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.processes import REPO_ROOT, clean_env, free_port, wait_until_healthy
from time_tracker_api import create_app
from time_tracker_api.config import config_for_tests
from time_tracker_api.version import __version__

# The configuration the product reads, and what the image and compose add to it.
CONTRACT_VARIABLES = (
    "DATABASE_BACKEND",
    "SQL_DATABASE_URI",
    "COSMOS_DATABASE_URI",
    "DATABASE_ACCOUNT_URI",
    "DATABASE_MASTER_KEY",
    "DATABASE_NAME",
    "COSMOS_VERIFY_TLS",
    "JWT_SECRET_KEY",
    "JWT_JWKS_URI",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY_SECONDS",
    "CORS_ORIGINS",
    "AZURE_APP_CONFIGURATION_CONNECTION_STRING",
    "FEATURE_FLAGS_FILE",
)
DEPLOYMENT_VARIABLES = (
    "APP_ENV",
    "INSTANCE_PATH",
    "FEATURE_FLAGS_REFRESH_SECONDS",
    "RATE_LIMIT",
    "RATE_LIMIT_STORAGE_URI",
    "GUNICORN_WORKERS",
    "GUNICORN_THREADS",
    "PORT",
)
ENTRYPOINT = REPO_ROOT / "docker-entrypoint.sh"
SHELL_SCRIPTS = sorted(
    [*REPO_ROOT.glob("scripts/*.sh"), ENTRYPOINT, REPO_ROOT / ".ci" / "run"],
)
COMPOSE_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<operator>:?[-?+])?")
SERVER_STARTS_WITHIN = 30


def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def env_template() -> dict[str, str]:
    """The variables `.env.template` assigns, with their values."""
    pairs = {}
    for line in (REPO_ROOT / ".env.template").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value
    return pairs


def dockerfile(path: Path) -> list[tuple[str, str]]:
    """The (INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def strings_in(node: Any) -> Iterator[str]:
    """Every string in a parsed YAML document: keys and values."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)
    elif isinstance(node, str):
        yield node


def ignored(path: str, dockerignore: Path) -> bool:
    """Whether `.dockerignore` keeps `path` (relative to the build context) out of the context.

    An approximation of Docker's matching that errs towards "ignored" (`*` crosses `/` here).
    """
    patterns = [
        line.strip().lstrip("/")
        for line in dockerignore.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if hit:
            excluded = not negated
    return excluded


def entrypoint_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """A clean environment whose `python` and `gunicorn` are those running the tests."""
    env = clean_env(tmp_path / "instance", HOME=str(tmp_path), **variables)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def healthcheck_command() -> str:
    (arguments,) = [
        args for keyword, args in dockerfile(REPO_ROOT / "Dockerfile") if keyword == "HEALTHCHECK"
    ]
    return arguments.split(" CMD ", 1)[1]


# docker-compose.yml


PROFILES = {
    "api": None,
    "postgres": None,
    "cosmos": ["cosmos"],
    "api-cosmos": ["cosmos"],
    "azurite": ["functions"],
    "functions": ["functions"],
}


def test_compose_runs_the_api_postgres_the_emulators_and_the_functions_host():
    services = compose()["services"]
    assert set(services) == set(PROFILES)
    assert services["postgres"]["image"] == "postgres:15"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert services["functions"]["image"] != services["api"]["image"]


def test_the_api_waits_for_a_healthy_postgres_and_migrates_before_serving():
    api = compose()["services"]["api"]
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert api["command"] == ["migrate-and-serve"]
    assert api["build"]["dockerfile"] == "Dockerfile"


def test_each_service_is_in_its_profile():
    """No profile: the API on PostgreSQL; `cosmos`: the emulator and the API on it;
    `functions`: the Functions host and Azurite."""
    services = compose()["services"]
    assert {name: service.get("profiles") for name, service in services.items()} == PROFILES


def test_the_api_on_postgres_does_not_depend_on_the_emulator():
    services = compose()["services"]
    api = services["api"]
    assert "cosmos" not in api.get("depends_on", {})
    assert set(api["depends_on"]) == {"postgres"}
    # Every service a default one waits for starts without a profile too.
    for service in services.values():
        if not service.get("profiles"):
            assert all(not services[dep].get("profiles") for dep in service.get("depends_on", {}))


def test_the_cosmos_profile_runs_the_same_api_on_the_emulator():
    services = compose()["services"]
    api, variant = services["api"], services["api-cosmos"]
    assert variant["image"] == api["image"] and variant["build"] == api["build"]
    assert variant["command"] == api["command"]
    assert variant["environment"]["DATABASE_BACKEND"] == "cosmos"
    assert variant["environment"]["DATABASE_ACCOUNT_URI"].endswith("https://cosmos:8081}")
    assert {
        k: v for k, v in variant["environment"].items() if k not in {"DATABASE_BACKEND", "PORT"}
    } == {k: v for k, v in api["environment"].items() if k not in {"DATABASE_BACKEND", "PORT"}}
    assert variant["depends_on"]["cosmos"]["condition"] == "service_healthy"
    host_ports = {port.rsplit(":", 1)[0] for port in api["ports"] + variant["ports"]}
    assert len(host_ports) == 2


def test_the_functions_host_has_its_settings_and_reaches_the_compose_services():
    functions = compose()["services"]["functions"]
    settings = functions["environment"]
    assert settings["AzureWebJobsScriptRoot"] == "/home/site/wwwroot"
    assert settings["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert settings["AzureWebJobsFeatureFlags"] == "EnableWorkerIndexing"
    assert "BlobEndpoint=http://azurite:10000/" in settings["AzureWebJobsStorage"]
    assert "@postgres:5432/" in settings["SQL_DATABASE_URI"]
    assert "AccountEndpoint=https://cosmos:8081/" in settings["COSMOS_CONNECTION"]
    for name in ("OUTBOX_SCHEDULE", "DATABASE_NAME"):
        assert name in settings
    assert functions["depends_on"]["api"]["condition"] == "service_healthy"


def test_every_build_in_compose_names_files_that_exist():
    for name, service in compose()["services"].items():
        if "build" not in service:
            continue
        context = REPO_ROOT / service["build"]["context"]
        dockerfile_path = context / service["build"].get("dockerfile", "Dockerfile")
        assert dockerfile_path.is_file(), f"{name}: {dockerfile_path}"


def test_compose_starts_from_the_env_template_alone():
    """Every ${VARIABLE} compose reads has a default and is explained in .env.template."""
    template = env_template()
    used: dict[str, set[str | None]] = {}
    for text in strings_in(compose()):
        for match in COMPOSE_VARIABLE.finditer(text):
            used.setdefault(match["name"], set()).add(match["operator"])
    assert used
    assert sorted(set(used) - set(template)) == []
    assert sorted(name for name, operators in used.items() if operators != {":-"}) == []


# .env.template


def test_the_env_template_lists_every_setting_with_a_comment_and_no_value():
    text = (REPO_ROOT / ".env.template").read_text()
    template = env_template()
    for name in (*CONTRACT_VARIABLES, *DEPLOYMENT_VARIABLES):
        assert name in template, name
    # Placeholders only: the values are explained in comments, none is filled in.
    assert {name: value for name, value in template.items() if value} == {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line and not line.startswith("#"):
            block_start = index
            while (
                block_start > 0
                and lines[block_start - 1]
                and not lines[block_start - 1].startswith("#")
            ):
                block_start -= 1
            assert lines[block_start - 1].startswith("#"), f"no comment above {line}"


def test_the_env_file_stays_out_of_git_and_out_of_images():
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert ignored(".env", REPO_ROOT / ".dockerignore")
    assert ignored("time_tracker_events/local.settings.json", REPO_ROOT / ".dockerignore")


# Dockerfile


def test_the_image_is_slim_python_with_the_pinned_production_requirements():
    instructions = dockerfile(REPO_ROOT / "Dockerfile")
    text = " ".join(f"{keyword} {args}" for keyword, args in instructions)
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in text
    assert "--require-hashes --only-binary=:all: -r /tmp/requirements/prod.txt" in text
    assert (
        "COPY",
        "requirements/time_tracker_api/prod.txt /tmp/requirements/prod.txt",
    ) in instructions
    runtime = " ".join(args for keyword, args in final_stage(instructions) if keyword == "RUN")
    assert "apt-get install -y --no-install-recommends unixodbc odbc-mariadb" in runtime
    assert "rm -rf /var/lib/apt/lists/*" in runtime


def test_the_image_runs_gunicorn_as_a_non_root_user_in_production():
    stage = final_stage(dockerfile(REPO_ROOT / "Dockerfile"))
    (user,) = [args for keyword, args in stage if keyword == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    env = " ".join(args for keyword, args in stage if keyword == "ENV")
    assert "APP_ENV=production" in env
    assert "HOME=/home/app" in env
    assert ("EXPOSE", "8000") in stage
    assert ("ENTRYPOINT", '["/app/docker-entrypoint.sh"]') in stage
    assert ("CMD", '["serve"]') in stage
    assert "/health" in healthcheck_command()


@pytest.mark.parametrize(
    ("dockerfile_path", "context"),
    [
        pytest.param("Dockerfile", ".", id="api"),
        pytest.param("docker/cosmos-emulator.Dockerfile", ".", id="cosmos"),
        pytest.param("time_tracker_events/Dockerfile", ".", id="functions"),
    ],
)
def test_every_file_an_image_copies_is_in_its_build_context(dockerfile_path, context):
    context_dir = REPO_ROOT / context
    for keyword, args in dockerfile(REPO_ROOT / dockerfile_path):
        if keyword != "COPY" or "--from=" in args:
            continue
        *sources, _ = [word for word in shlex.split(args) if not word.startswith("--")]
        for source in sources:
            if source == ".":
                continue
            assert (context_dir / source).exists(), source
            assert not ignored(source.rstrip("/"), context_dir / ".dockerignore"), source


# docker-entrypoint.sh


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_the_shell_scripts_parse(script):
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_entrypoint_runs_any_other_command_as_given(tmp_path):
    result = subprocess.run(
        [str(ENTRYPOINT), "python", "-c", "import os; print(os.getcwd())"],
        env=entrypoint_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(REPO_ROOT)


def test_options_given_to_the_entrypoint_go_to_gunicorn(tmp_path):
    result = subprocess.run(
        [str(ENTRYPOINT), "--version"],
        env=entrypoint_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "gunicorn" in result.stdout + result.stderr


def test_the_entrypoint_migrates_as_its_own_step(tmp_path):
    database = tmp_path / "migrated.db"
    env = entrypoint_env(tmp_path, APP_ENV="development", SQL_DATABASE_URI=f"sqlite:///{database}")
    result = subprocess.run(
        [str(ENTRYPOINT), "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"migrations", "time_entry", "outbox", "events"} <= tables


def test_migrate_and_serve_answers_the_image_healthcheck_and_logs_requests(tmp_path):
    port = free_port()
    env = entrypoint_env(
        tmp_path,
        APP_ENV="production",
        JWT_SECRET_KEY="a-production-secret-for-the-delivery-test-0123456789",
        SQL_DATABASE_URI=f"sqlite:///{tmp_path / 'served.db'}",
        PORT=str(port),
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
    )
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(ENTRYPOINT), "migrate-and-serve"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_healthy(server, port, log, SERVER_STARTS_WITHIN)
        check = subprocess.run(
            ["/bin/sh", "-c", healthcheck_command()],
            env=env,
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert check.returncode == 0, check.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert '"GET /health HTTP/1.1" 200' in log.read_text()
    assert not (tmp_path / ".gunicorn").exists()


def test_the_image_healthcheck_fails_when_nothing_answers(tmp_path):
    env = entrypoint_env(tmp_path, PORT=str(free_port()))
    check = subprocess.run(
        ["/bin/sh", "-c", healthcheck_command()],
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert check.returncode != 0


# .pre-commit-config.yaml


def pinned(requirement: str) -> str:
    dev = (REPO_ROOT / "requirements" / "time_tracker_api" / "dev.txt").read_text()
    (version,) = re.findall(
        rf"^{re.escape(requirement)}==([^\s\\]+)(?: \\)?$", dev, flags=re.MULTILINE
    )
    return version


def hooks_of(config: dict[str, Any], repo_suffix: str) -> dict[str, dict[str, Any]]:
    (repo,) = [repo for repo in config["repos"] if repo["repo"].endswith(repo_suffix)]
    return {hook["id"]: {**hook, "rev": repo.get("rev")} for hook in repo["hooks"]}


def test_pre_commit_runs_ruff_at_the_pinned_version_and_mypy_on_what_ci_checks():
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    ruff = hooks_of(config, "astral-sh/ruff-pre-commit")
    assert ruff["ruff-check"]["rev"] == f"v{pinned('ruff')}"
    assert "--fix" in ruff["ruff-check"]["args"]
    assert "ruff-format" in ruff
    mypy = hooks_of(config, "local")["mypy"]
    checked = "mypy commons time_tracker_api time_tracker_events cli.py"
    assert checked in mypy["entry"]
    assert f".venv/bin/{checked}" in (REPO_ROOT / ".ci" / "run").read_text()
    for changed in ("commons/a.py", "time_tracker_api/a.py", "time_tracker_events/a.py", "cli.py"):
        assert re.search(mypy["files"], changed)
    hygiene = hooks_of(config, "pre-commit/pre-commit-hooks")
    for hook in (
        "trailing-whitespace",
        "end-of-file-fixer",
        "check-yaml",
        "check-json",
        "check-toml",
        "check-merge-conflict",
        "check-added-large-files",
        "detect-private-key",
    ):
        assert hook in hygiene


def test_pre_commit_checks_commit_messages_are_conventional():
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    assert "commit-msg" in config["default_install_hook_types"]
    conventional = hooks_of(config, "compilerla/conventional-pre-commit")["conventional-pre-commit"]
    assert conventional["stages"] == ["commit-msg"]
    assert {"feat", "fix", "docs", "test", "refactor", "perf", "build", "ci", "chore"} <= set(
        conventional["args"]
    )


def test_pre_commit_accepts_its_configuration():
    pytest.importorskip(
        "pre_commit", reason="pre-commit is in requirements/time_tracker_api/dev.txt"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Releases


def test_semantic_release_bumps_the_version_the_app_shows():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    release = pyproject["tool"]["semantic_release"]
    assert release["commit_parser"] == "conventional"
    assert release["tag_format"] == "v{version}"
    assert release["version_toml"] == ["pyproject.toml:project.version"]
    for declaration in release["version_variables"]:
        path, variable = declaration.split(":")
        assert (REPO_ROOT / path).is_file(), path
        assert re.search(
            rf"^{variable} = \"{re.escape(__version__)}\"$", (REPO_ROOT / path).read_text(), re.M
        )
    changelog_file = release["changelog"]["default_templates"]["changelog_file"]
    changelog = (REPO_ROOT / changelog_file).read_text()
    assert "## [Unreleased]" in changelog
    assert release["changelog"]["insertion_flag"] in changelog


def test_the_version_is_shown_in_swagger_and_health(tmp_path):
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == __version__
    app = create_app(config_for_tests(f"sqlite:///{tmp_path / 'version.db'}", tmp_path))
    client = app.test_client()
    assert client.get("/swagger.json").get_json()["info"]["version"] == __version__
    assert client.get("/health").get_json() == {"status": "ok", "version": __version__}
    app.extensions["storage"].engine.dispose()
