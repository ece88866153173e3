"""Roles: admin, tester and member, from token groups and tenant grants, and what each may see."""

from __future__ import annotations

from typing import Any

import pytest

from commons.domain.exceptions import Forbidden, Unauthenticated, ValidationFailed
from commons.domain.principal import ROLE_GROUPS, Principal
from commons.domain.users import User, invited_user
from commons.services.time_entries import EntryFilters, _query
from commons.services.users import _check_group, _role_group, require_admin
from time_tracker_api.security import identity_from_claims

ADMIN = "time-tracker-admin"
TESTER = "time-tracker-tester"
B2C_TENANT = "6F1B4A0C-3C7E-4D5B-9E2A-1B2C3D4E5F60"


def principal(*groups: str) -> Principal:
    return Principal("t", "me", groups=frozenset(groups))


# --- a principal's roles -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "groups, admin, tester",
    [
        ((), False, False),  # a member
        ((ADMIN,), True, False),
        ((TESTER,), False, True),
        ((ADMIN, TESTER), True, True),
        (("time-tracker-owner",), False, False),  # an unknown group gives nothing
        (("Time-Tracker-Admin",), False, False),  # group names are exact
        (("admin",), False, False),  # a role name is not a group
    ],
)
def test_a_principals_roles_come_from_its_groups(groups, admin, tester):
    caller = principal(*groups)
    assert (caller.is_admin, caller.is_tester) == (admin, tester)


@pytest.mark.parametrize(
    "groups, allowed",
    [((), False), ((TESTER,), False), ((ADMIN,), True), ((ADMIN, TESTER), True)],
)
def test_only_admins_manage_roles_and_groups(groups, allowed):
    if allowed:
        require_admin(principal(*groups))
    else:
        with pytest.raises(Forbidden):
            require_admin(principal(*groups))


# --- a user's groups: the token's and the tenant's grants together -------------------------------


@pytest.mark.parametrize(
    "token, granted, groups, roles, tester",
    [
        ((), (), [], [], False),
        ((ADMIN,), (), [ADMIN], [ADMIN], False),
        ((), (ADMIN,), [ADMIN], [ADMIN], False),
        ((TESTER,), (), [TESTER], [TESTER], True),
        ((), (TESTER,), [TESTER], [TESTER], True),
        ((ADMIN,), (ADMIN,), [ADMIN], [ADMIN], False),  # granted and in the token: once
        ((TESTER,), (ADMIN,), [ADMIN, TESTER], [ADMIN, TESTER], True),
        (("zz-other",), (), ["zz-other"], [], False),  # a group that is no role
    ],
)
def test_a_users_groups_are_the_tokens_and_the_grants(token, granted, groups, roles, tester):
    user = User(
        id="u", tenant_id="t", token_groups=frozenset(token), granted_groups=frozenset(granted)
    )
    assert (user.groups, user.roles, user.is_tester) == (groups, roles, tester)


def test_roles_are_listed_admin_first_whatever_the_order_of_the_groups():
    user = User(id="u", tenant_id="t", granted_groups=frozenset({TESTER, "aaa", ADMIN}))
    assert user.groups == ["aaa", ADMIN, TESTER]
    assert user.roles == [ADMIN, TESTER]


@pytest.mark.parametrize("role, group", [("admin", ADMIN), ("test", TESTER)])
def test_a_role_names_its_group(role, group):
    assert ROLE_GROUPS[role] == group
    assert _role_group(role) == group


@pytest.mark.parametrize("role", ["tester", "Admin", "member", "", ADMIN])
def test_an_unknown_role_is_refused(role):
    with pytest.raises(ValidationFailed) as refused:
        _role_group(role)
    assert set(refused.value.errors) == {"role"}


@pytest.mark.parametrize("group", ["admin", "time-tracker-owner", "", None, 3])
def test_only_the_admin_and_tester_groups_can_be_granted(group):
    with pytest.raises(ValidationFailed) as refused:
        _check_group(group)
    assert set(refused.value.errors) == {"group_name"}


@pytest.mark.parametrize("group", [ADMIN, TESTER])
def test_the_admin_and_tester_groups_can_be_granted(group):
    _check_group(group)


# --- token groups from the identity provider's claims --------------------------------------------


def claims(**extra: Any) -> dict[str, Any]:
    return {"oid": "user-1", "tid": "tenant-1", **extra}


@pytest.mark.parametrize(
    "extra, groups",
    [
        ({}, set()),
        ({"roles": [ADMIN]}, {ADMIN}),
        ({"roles": [TESTER, ADMIN]}, {ADMIN, TESTER}),
        ({"extension_role": TESTER}, {TESTER}),  # Azure AD B2C's custom attribute
        ({"extension_role": ADMIN, "roles": [TESTER]}, {ADMIN, TESTER}),
        ({"roles": ["time-tracker-owner", "admin"]}, set()),  # only the product's groups
        ({"roles": ["Time-Tracker-Admin"]}, set()),
        ({"roles": []}, set()),
    ],
)
def test_a_tokens_groups_are_its_roles_and_extension_role_among_the_products_groups(extra, groups):
    assert identity_from_claims(claims(**extra)).token_groups == frozenset(groups)


@pytest.mark.parametrize(
    "extra", [{"roles": ADMIN}, {"roles": [ADMIN, 3]}, {"extension_role": [ADMIN]}]
)
def test_role_claims_of_the_wrong_type_are_refused(extra):
    with pytest.raises(Unauthenticated):
        identity_from_claims(claims(**extra))


def test_a_token_names_its_user_by_oid_or_else_sub_and_its_tenant_by_tid_or_b2c_issuer():
    assert identity_from_claims({"sub": "s", "tid": "t"}).user_id == "s"
    assert identity_from_claims({"oid": "o", "sub": "s", "tid": "t"}).user_id == "o"
    issuer = f"https://contoso.b2clogin.com/{B2C_TENANT}/v2.0/"
    assert identity_from_claims({"oid": "o", "iss": issuer}).tenant_id == B2C_TENANT.lower()


@pytest.mark.parametrize(
    "token",
    [
        {"tid": "t"},
        {"oid": "o"},
        {"oid": "o", "iss": "https://login.example.com/t/v2.0/"},
        {"oid": "o", "tid": "t" * 65},
        {"oid": "o" * 129, "tid": "t"},
    ],
)
def test_a_token_without_a_user_or_tenant_it_can_name_is_refused(token):
    with pytest.raises(Unauthenticated):
        identity_from_claims(token)


def test_a_tokens_email_is_the_first_of_emails_then_email_then_preferred_username():
    both = {"email": "b@x", "preferred_username": "c@x"}
    assert identity_from_claims(claims(emails=["a@x", "z@x"], **both)).email == "a@x"
    assert identity_from_claims(claims(**both)).email == "b@x"
    assert identity_from_claims(claims(preferred_username="c@x")).email == "c@x"
    assert identity_from_claims(claims()).email is None


def test_a_tokens_name_falls_back_to_given_and_family_names_and_is_cut_at_200():
    assert identity_from_claims(claims(given_name="Ana", family_name="Ruiz")).name == "Ana Ruiz"
    assert identity_from_claims(claims(name="A", given_name="B")).name == "A"
    assert identity_from_claims(claims(name="n" * 250)).name == "n" * 200
    assert identity_from_claims(claims()).name is None


# --- whose entries a list shows ------------------------------------------------------------------


class Testers:
    """The only part of the unit of work the rule reads: the tenant's testers."""

    class users:  # mirrors `uow.users`
        @staticmethod
        def tester_ids(tenant_id: str) -> list[str]:
            assert tenant_id == "t"
            return ["tester-1", "tester-2"]


@pytest.mark.parametrize(
    "groups, user_ids, owners, excluded",
    [
        ((), None, ("me",), ()),  # a member sees their own
        ((TESTER,), None, ("me",), ()),
        ((ADMIN,), None, ("me",), ()),  # an admin, too, unless they ask for others
        ((ADMIN,), ("u2", "u3"), ("u2", "u3"), ("tester-1", "tester-2")),
        ((ADMIN,), ("*",), None, ("tester-1", "tester-2")),  # everyone but the testers
        ((ADMIN, TESTER), ("*",), None, ()),  # a tester admin sees the testers too
        ((ADMIN, TESTER), ("u2",), ("u2",), ()),
    ],
)
def test_admins_see_whom_they_name_and_testers_stay_hidden_from_non_testers(
    groups, user_ids, owners, excluded
):
    filters = EntryFilters(user_ids=user_ids, start_date=None, month=6, year=2026)
    query = _query(Testers(), principal(*groups), filters)  # type: ignore[arg-type]
    assert (query.owner_ids, query.excluded_owner_ids) == (owners, excluded)


@pytest.mark.parametrize("groups", [(), (TESTER,)])
@pytest.mark.parametrize("user_ids", [("*",), ("me",), ("u2",)])
def test_a_member_cannot_list_anyone_elses_entries_not_even_by_naming_themselves(groups, user_ids):
    with pytest.raises(Forbidden):
        _query(Testers(), principal(*groups), EntryFilters(user_ids=user_ids))  # type: ignore[arg-type]


# --- people an admin adds by email ---------------------------------------------------------------


@pytest.mark.parametrize(
    "email, name, kept",
    [
        ("ana@example.com", "Ana", ("ana@example.com", "Ana")),
        ("ana@example.com", "", ("ana@example.com", None)),  # an empty name is no name
        ("a" * 64 + "@" + "b" * 255, None, ("a" * 64 + "@" + "b" * 255, None)),  # 320 long
        ("ana@example.com", "n" * 200, ("ana@example.com", "n" * 200)),
    ],
)
def test_an_invited_user_keeps_an_address_and_a_name_within_their_limits(email, name, kept):
    user = invited_user("t", email, name)
    assert (user.tenant_id, user.email, user.name) == ("t", *kept)
    assert (user.token_groups, user.granted_groups) == (frozenset(), frozenset())


@pytest.mark.parametrize(
    "email, name, fields",
    [
        ("a" * 65 + "@" + "b" * 255, None, {"email"}),  # 321 characters
        ("ana@example.com", "n" * 201, {"name"}),
        ("ana@example.com", 3, {"name"}),
        ("not an address", ["Ana"], {"email", "name"}),
    ],
)
def test_an_invitation_beyond_the_limits_names_each_refused_field(email, name, fields):
    with pytest.raises(ValidationFailed) as refused:
        invited_user("t", email, name)
    assert set(refused.value.errors) == fields
