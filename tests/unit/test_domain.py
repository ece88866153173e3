"""Domain rules, without storage or HTTP."""

from __future__ import annotations

import uuid

import pytest

from commons.domain.catalog import (
    PROJECT,
    PROJECT_TYPE,
    TECHNOLOGY,
    Project,
    clean_name,
    normalized_name,
)
from commons.domain.exceptions import ValidationFailed
from commons.domain.principal import Principal
from commons.domain.users import User, email_key, invited_user


@pytest.mark.parametrize(
    "name, key",
    [("  Backend ", "backend"), ("BACKEND", "backend"), ("Straße", "strasse"), ("Café", "café")],
)
def test_names_compare_trimmed_and_case_folded(name, key):
    assert normalized_name(name) == key


@pytest.mark.parametrize("name", ["", "   ", None, 3])
def test_a_blank_or_missing_name_is_refused(name):
    with pytest.raises(ValidationFailed) as error:
        clean_name(name)
    assert "name" in error.value.errors


def test_clean_names_are_trimmed():
    assert clean_name("  Design  ") == "Design"


def test_project_names_are_unique_within_their_customer():
    project = Project(id="p", tenant_id="t", name="Web", customer_id="c1")
    assert PROJECT.uniqueness_scope(project) == "c1"


def test_internal_project_types_and_technologies_share_the_tenant_scope():
    assert PROJECT_TYPE.uniqueness_scope(PROJECT_TYPE.entity(id="x", tenant_id="t", name="n")) == ""
    assert TECHNOLOGY.uniqueness_scope(TECHNOLOGY.entity(id="x", tenant_id="t", name="n")) == ""


def test_roles_come_from_token_and_grants_together():
    user = User(
        id="u",
        tenant_id="t",
        token_groups=frozenset({"time-tracker-tester"}),
        granted_groups=frozenset({"time-tracker-admin"}),
    )
    assert user.roles == ["time-tracker-admin", "time-tracker-tester"]
    assert user.is_tester


def test_a_principal_is_admin_only_through_the_admin_group():
    assert Principal("t", "u", groups=frozenset({"time-tracker-admin"})).is_admin
    assert not Principal("t", "u", groups=frozenset({"time-tracker-tester"})).is_admin


def test_an_email_key_is_the_same_in_any_letter_case_and_of_one_length():
    assert email_key("Ana@Example.COM") == email_key("ana@example.com")
    assert email_key("STRASSE@example.com") == email_key("straße@example.com")
    assert email_key("ana@example.com") != email_key("ana@example.org")
    assert len(email_key("a" * 300 + "@example.com")) == len(email_key("a@b")) == 64


@pytest.mark.parametrize("email", ["", "a", "@b", "a@", "a@b@c", "a b@c", "a@b\n", 3, None])
def test_an_invited_user_needs_an_address(email):
    with pytest.raises(ValidationFailed) as refused:
        invited_user("t", email)
    assert set(refused.value.errors) == {"email"}


def test_an_invited_user_gets_a_new_server_id():
    first, second = invited_user("t", "a@b", "Ana"), invited_user("t", "a@b")
    assert first.id != second.id and str(uuid.UUID(first.id)) == first.id
    assert (first.email, first.name, second.name) == ("a@b", "Ana", None)
