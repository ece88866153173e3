"""Supply chain: hashed locks installed with --require-hashes, and the CI, release and
Dependabot workflows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
API_REQUIREMENTS = REPO_ROOT / "requirements" / "time_tracker_api"
EVENTS = REPO_ROOT / "time_tracker_events"
LOCKS = {
    API_REQUIREMENTS / "prod.in": API_REQUIREMENTS / "prod.txt",
    API_REQUIREMENTS / "dev.in": API_REQUIREMENTS / "dev.txt",
    EVENTS / "requirements.in": EVENTS / "requirements.txt",
}
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """Each requirement of a lock: name → (version, its sha256 hashes); fails on any other line."""
    entries: dict[str, tuple[str, list[str]]] = {}
    # A requirement and its --hash options are one logical line, continued with backslashes.
    logical = re.sub(r"\\\n", " ", path.read_text())
    for raw in logical.splitlines():
        line = raw.split(" #")[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        requirement, *options = line.split()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)", requirement)
        assert match, f"{path.name}: not pinned with ==: {line}"
        hashes = [option.removeprefix("--hash=sha256:") for option in options]
        assert hashes, f"{path.name}: {requirement} has no --hash=sha256:"
        assert all(option.startswith("--hash=sha256:") for option in options), line
        assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in hashes), line
        entries[normalized(match.group(1))] = (match.group(2), hashes)
    return entries


def top_level(path: Path) -> set[str]:
    names = set()
    for raw in path.read_text().splitlines():
        line = raw.split("#")[0].strip()
        if not line:
            continue
        if line.startswith(("-r ", "-c ")):
            included = path.parent / line.split(maxsplit=1)[1]
            if line.startswith("-r "):
                names |= top_level(included)
            continue
        match = NAME.match(line)
        assert match, f"{path.name}: {line}"
        names.add(normalized(match.group(1)))
    return names


@pytest.mark.parametrize("lock", LOCKS.values(), ids=lambda path: path.name)
def test_every_line_of_every_lock_is_pinned_with_hashes(lock):
    assert locked(lock)


@pytest.mark.parametrize(("source", "lock"), LOCKS.items(), ids=lambda path: path.name)
def test_every_top_level_requirement_is_in_its_lock(source, lock):
    assert top_level(source) - set(locked(lock)) == set()


def test_dev_is_constrained_by_the_prod_lock_and_agrees_with_it():
    assert "-c prod.txt" in (API_REQUIREMENTS / "dev.in").read_text().splitlines()
    prod = locked(API_REQUIREMENTS / "prod.txt")
    for lock in (API_REQUIREMENTS / "dev.txt", EVENTS / "requirements.txt"):
        other = locked(lock)
        assert {name: other[name][0] for name in prod.keys() & other.keys()} == {
            name: prod[name][0] for name in prod.keys() & other.keys()
        }


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


@pytest.mark.parametrize("lock", LOCKS.values(), ids=lambda path: path.name)
def test_orjson_has_the_fix_and_pip_and_setuptools_are_current(lock):
    entries = locked(lock)
    assert version(entries["orjson"][0]) >= (3, 11, 6)
    assert version(entries["pip"][0]) >= (26,)
    assert version(entries["setuptools"][0]) >= (84,)


def test_bootstrap_and_the_images_install_with_hashes_required():
    bootstrap = (REPO_ROOT / "scripts" / "bootstrap.sh").read_text()
    assert re.search(r"pip install[^\n]*--require-hashes -r \"\$REQUIREMENTS\"", bootstrap)
    # The reinstall check covers the locks and the .in files they are compiled from.
    digest = bootstrap.split("DIGEST=", 1)[1].split("| sha256sum", 1)[0]
    for part in ("requirements/time_tracker_api/*.txt", "requirements/time_tracker_api/*.in"):
        assert part in digest
    assert "time_tracker_events/requirements.txt" in digest
    assert "time_tracker_events/requirements.in" in digest
    for dockerfile in (REPO_ROOT / "Dockerfile", EVENTS / "Dockerfile"):
        installs = [line for line in dockerfile.read_text().splitlines() if "pip install" in line]
        assert installs, dockerfile
        for line in installs:
            assert "--require-hashes" in line and "--only-binary=:all:" in line, line


def test_the_lock_script_compiles_every_lock_with_hashes():
    script = (REPO_ROOT / "scripts" / "lock.sh").read_text()
    assert "--generate-hashes" in script and "--allow-unsafe" in script
    for source in LOCKS:
        assert str(source.relative_to(REPO_ROOT)) in script


# .github


def workflow(name: str) -> dict:
    return yaml.safe_load((REPO_ROOT / ".github" / "workflows" / name).read_text())


def triggers(document: dict) -> dict:
    # YAML 1.1 reads a bare `on:` key as True.
    return document.get("on", document.get(True))


def test_ci_runs_the_ci_script_with_its_services_on_push_and_pull_request():
    ci = workflow("ci.yml")
    assert {"push", "pull_request"} <= set(triggers(ci))
    (job,) = ci["jobs"].values()
    assert job["runs-on"].startswith("ubuntu")
    assert {"postgres", "mariadb", "redis", "rabbitmq"} <= set(job["services"])
    assert job["services"]["postgres"]["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert "5432:5432" in job["services"]["postgres"]["ports"]
    assert "3306:3306" in job["services"]["mariadb"]["ports"]
    uses = [step.get("uses", "") for step in job["steps"]]
    assert any(use.startswith("actions/checkout@") for use in uses)
    assert any(use.startswith("actions/setup-node@") for use in uses)
    (python,) = [
        step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@")
    ]
    assert str(python["with"]["python-version"]) == "3.11"
    (run,) = [step for step in job["steps"] if "run" in step]
    assert run["run"].strip() == "bash .ci/run"
    assert str(run.get("env", {}).get("CI", job.get("env", {}).get("CI"))).lower() == "true"


def test_release_runs_semantic_release_on_pushes_to_main():
    release = workflow("release.yml")
    assert triggers(release)["push"]["branches"] == ["main"]
    steps = [step for job in release["jobs"].values() for step in job["steps"]]
    assert any("semantic-release" in (step.get("uses", "") + step.get("run", "")) for step in steps)


def test_dependabot_watches_pip_npm_actions_and_docker():
    config = yaml.safe_load((REPO_ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    watched = {(update["package-ecosystem"], update["directory"]) for update in config["updates"]}
    assert {
        ("pip", "/requirements/time_tracker_api"),
        ("pip", "/time_tracker_events"),
        ("npm", "/"),
        ("github-actions", "/"),
        ("docker", "/"),
    } <= watched
