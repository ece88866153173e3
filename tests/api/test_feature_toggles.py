"""Feature toggles over HTTP: flags from a file, evaluated for each caller.

Every app here runs on a SQLite file of its own with a real flags file; `refresh_seconds=0`
makes each request read the file again, so a test can change it between two requests.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN, make_token
from time_tracker_api.config import Config

TENANT = "tenant-feature-toggles"


def targeting(audience: dict[str, Any]) -> dict[str, Any]:
    return {
        "client_filters": [{"name": "Microsoft.Targeting", "parameters": {"Audience": audience}}]
    }


def flag(name: str, enabled: bool = True, **audience: Any) -> dict[str, Any]:
    """A flag in Microsoft's schema; with an audience, a `Microsoft.Targeting` filter."""
    definition: dict[str, Any] = {
        "id": name,
        "description": f"{name} for tests",
        "enabled": enabled,
    }
    if audience:
        definition["conditions"] = targeting({"DefaultRolloutPercentage": 0, **audience})
    return definition


FLAGS = [
    flag("everyone"),
    flag("nobody", enabled=False),
    flag("ann-by-email", Users=["Ann.Lee@Example.com"]),
    flag("bob-by-id", Users=["user-bob"]),
    flag("admins", Groups=[{"Name": ADMIN, "RolloutPercentage": 100}]),
    flag(
        "admins-but-carol",
        Groups=[{"Name": ADMIN, "RolloutPercentage": 100}],
        Exclusion={"Users": ["carol@example.com"], "Groups": []},
    ),
    flag("half", DefaultRolloutPercentage=50),
]


class FlagsFile:
    """The flags file an app reads; `write` replaces its flags."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, flags: list[dict[str, Any]]) -> None:
        self.path.write_text(json.dumps({"feature_management": {"feature_flags": flags}}))


@pytest.fixture
def flags_file(tmp_path: Path) -> FlagsFile:
    flags = FlagsFile(tmp_path / "feature_flags.json")
    flags.write(FLAGS)
    return flags


@pytest.fixture
def client(make_client: Callable[..., Any], flags_file: FlagsFile) -> Any:
    """The API reading `flags_file` on every request."""
    return make_client(feature_flags_file=str(flags_file.path), feature_flags_refresh_seconds=0)


def headers(user_id: str, email: str | None = None, groups: tuple[str, ...] = ()) -> dict:
    token = make_token(TENANT, user_id, groups, email=email or f"{user_id}@example.com")
    return {"Authorization": f"Bearer {token}"}


def toggles(client: Any, user_id: str, **identity: Any) -> dict[str, bool]:
    response = client.get("/feature-toggles", headers=headers(user_id, **identity))
    assert response.status_code == 200, response.json
    return response.json


def someone() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


# Evaluation -----------------------------------------------------------------------------------


def test_every_defined_flag_is_listed_with_its_state_for_the_caller(client):
    state = toggles(client, someone())
    assert isinstance(state.pop("half"), bool)
    assert state == {
        "admins": False,
        "admins-but-carol": False,
        "ann-by-email": False,
        "bob-by-id": False,
        "everyone": True,
        "nobody": False,
    }


def test_a_flag_without_filters_is_on_for_everyone_and_a_disabled_flag_for_nobody(client):
    for user in (someone(), someone()):
        state = toggles(client, user, groups=(ADMIN,))
        assert state["everyone"] is True
        assert state["nobody"] is False


def test_a_user_is_targeted_by_email_whatever_its_case(client):
    assert toggles(client, someone(), email="ann.lee@example.com")["ann-by-email"] is True
    assert toggles(client, someone(), email="ANN.LEE@EXAMPLE.COM")["ann-by-email"] is True
    assert toggles(client, someone(), email="ann@example.com")["ann-by-email"] is False


def test_a_user_is_targeted_by_id(client):
    assert toggles(client, "user-bob", email="robert@example.com")["bob-by-id"] is True
    assert toggles(client, "user-bobby")["bob-by-id"] is False


@pytest.mark.parametrize("look_alike", ["USER-BOB", "User-Bob"])
def test_a_user_id_is_targeted_exactly(client, look_alike):
    assert toggles(client, look_alike, email="robert@example.com")["bob-by-id"] is False


def test_a_group_is_targeted_through_the_callers_role(client):
    assert toggles(client, someone(), groups=(ADMIN,))["admins"] is True
    assert toggles(client, someone())["admins"] is False


def test_a_role_granted_in_the_tenant_counts_as_a_group(client):
    admin, member = someone(), someone()
    toggles(client, member)  # the member becomes known to the tenant
    granted = client.post(
        f"/users/{member}/roles/admin/grant", headers=headers(admin, groups=(ADMIN,))
    )
    assert granted.status_code == 200, granted.json
    assert toggles(client, member)["admins"] is True


def test_an_excluded_user_stays_out_even_when_their_group_is_targeted(client):
    carol = toggles(client, "carol", email="Carol@Example.com", groups=(ADMIN,))
    assert (carol["admins"], carol["admins-but-carol"]) == (True, False)
    assert toggles(client, "dave", groups=(ADMIN,))["admins-but-carol"] is True


def test_the_default_rollout_is_stable_for_each_user(client):
    users = [f"rollout-{number}" for number in range(60)]
    first = {user: toggles(client, user)["half"] for user in users}
    again = {user: toggles(client, user)["half"] for user in users}
    assert first == again
    # A 50 % rollout neither takes nor leaves everyone.
    assert 10 < sum(first.values()) < 50


def test_the_rollout_follows_the_user_id_not_the_email(client):
    first = toggles(client, "rollout-7", email="seven@example.com")["half"]
    assert toggles(client, "rollout-7", email="renamed@example.com")["half"] is first


def test_feature_toggles_need_a_token(client):
    response = client.get("/feature-toggles")
    assert response.status_code == 401
    assert response.json["code"] == "invalid_token"


# Sources and refresh --------------------------------------------------------------------------


def test_without_a_flag_source_no_flag_is_defined(make_client):
    assert toggles(make_client(), someone()) == {}


def test_a_changed_file_is_read_again_once_the_refresh_period_is_over(client, flags_file):
    user = someone()
    assert toggles(client, user)["nobody"] is False
    flags_file.write([flag("nobody"), flag("newcomer")])
    assert toggles(client, user) == {"newcomer": True, "nobody": True}


def test_flags_are_cached_for_the_refresh_period(make_client, flags_file):
    client = make_client(
        feature_flags_file=str(flags_file.path), feature_flags_refresh_seconds=3600
    )
    user = someone()
    assert toggles(client, user)["nobody"] is False
    flags_file.write([flag("nobody")])
    assert toggles(client, user)["nobody"] is False


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda path: path.unlink(), id="deleted"),
        pytest.param(lambda path: path.write_text("{not json"), id="not JSON"),
        pytest.param(lambda path: path.write_text('{"feature_management": 3}'), id="wrong shape"),
    ],
)
def test_an_unreadable_file_keeps_the_last_known_flags(client, flags_file, damage):
    user = someone()
    known = toggles(client, user)
    damage(flags_file.path)
    assert toggles(client, user) == known


def test_a_file_that_is_missing_from_the_start_means_no_flags_and_no_failure(make_client, tmp_path):
    client = make_client(feature_flags_file=str(tmp_path / "nowhere.json"))
    assert toggles(client, someone()) == {}


def test_invalid_flags_are_skipped_and_the_others_served(client, flags_file):
    flags_file.write(
        [
            flag("fine"),
            {"id": "maybe", "enabled": "perhaps"},
            {"enabled": True},
            "not a flag",
            {"id": "all-or-nothing", "enabled": True, "conditions": {"requirement_type": "Most"}},
        ]
    )
    assert toggles(client, someone()) == {"fine": True}


def test_a_flag_whose_filter_cannot_be_evaluated_is_off(client, flags_file):
    flags_file.write(
        [
            flag("fine"),
            {
                "id": "unknown-filter",
                "enabled": True,
                "conditions": {"client_filters": [{"name": "X"}]},
            },
            flag("over-100", DefaultRolloutPercentage=150),
        ]
    )
    assert toggles(client, someone()) == {"fine": True, "over-100": False, "unknown-filter": False}


# The audit log behind the `audit-log` flag ----------------------------------------------------


def events(client: Any, user_id: str) -> Any:
    return client.get("/events", headers=headers(user_id, groups=(ADMIN,)))


def test_the_audit_log_is_available_while_its_flag_is_undefined(client):
    assert events(client, someone()).status_code == 200


def test_the_audit_log_is_refused_while_its_flag_is_off(client, flags_file):
    flags_file.write([flag("audit-log", enabled=False)])
    response = events(client, someone())
    assert response.status_code == 403
    assert response.json["code"] == "feature_disabled"
    assert response.json["message"]


def test_the_audit_log_is_available_to_the_admins_its_flag_targets(client, flags_file):
    flags_file.write([flag("audit-log", Users=["auditor@example.com"])])
    assert events(client, "auditor").status_code == 200
    assert events(client, "another-admin").status_code == 403
    assert toggles(client, "auditor", groups=(ADMIN,)) == {"audit-log": True}


def test_members_still_cannot_read_the_audit_log_when_its_flag_is_on(client, flags_file):
    flags_file.write([flag("audit-log")])
    response = client.get("/events", headers=headers(someone()))
    assert response.status_code == 403
    assert response.json["code"] == "forbidden"


# Configuration --------------------------------------------------------------------------------


def test_the_flag_settings_are_read_from_the_environment():
    config = Config.from_env(
        {
            "APP_ENV": "test",
            "JWT_SECRET_KEY": "a-secret-for-this-test-only-0123456789",
            "FEATURE_FLAGS_FILE": "/etc/time-tracker/flags.json",
            "AZURE_APP_CONFIGURATION_CONNECTION_STRING": "Endpoint=https://x.azconfig.io;Id=i;Secret=cw==",
            "FEATURE_FLAGS_REFRESH_SECONDS": "5",
        }
    )
    assert config.problems == ()
    assert config.feature_flags_file == "/etc/time-tracker/flags.json"
    assert config.app_configuration_connection_string.startswith("Endpoint=https://x.azconfig.io")
    assert config.feature_flags_refresh_seconds == 5


def test_the_refresh_period_defaults_to_thirty_seconds():
    config = Config.from_env({"APP_ENV": "test", "JWT_SECRET_KEY": "s" * 40})
    assert config.feature_flags_refresh_seconds == 30
    assert config.feature_flags_file is None
    assert config.app_configuration_connection_string is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FEATURE_FLAGS_REFRESH_SECONDS", "soon"),
        ("FEATURE_FLAGS_REFRESH_SECONDS", "-1"),
        ("AZURE_APP_CONFIGURATION_CONNECTION_STRING", "https://x.azconfig.io"),
        ("AZURE_APP_CONFIGURATION_CONNECTION_STRING", "Endpoint=https://x;Id=i;Secret=s;"),
    ],
)
def test_a_bad_flag_setting_is_a_problem_named_at_start(variable, value):
    config = Config.from_env({"APP_ENV": "test", "JWT_SECRET_KEY": "s" * 40, variable: value})
    assert [problem for problem in config.problems if problem.startswith(variable)]
