"""User use cases: recording users from tokens, listing them, granting groups."""

from __future__ import annotations

from commons.data_access_layer.ports import Storage, UnitOfWork
from commons.domain.events import RecordChanged, RecordCreated, RecordUpdated
from commons.domain.exceptions import (
    Forbidden,
    NotFound,
    RoleFromIdentityProvider,
    ValidationFailed,
)
from commons.domain.principal import GROUPS, ROLE_GROUPS, Identity, Principal
from commons.domain.users import User, email_already_used, invited_user
from commons.services import idempotency
from commons.services.events import changed


def resolve_principal(
    storage: Storage, identity: Identity, session_id: str | None = None
) -> Principal:
    """Record (or refresh) the caller in their tenant's users and return who they are.

    Recording a caller is bookkeeping, not a change anybody made: it writes no change event.
    """
    with storage.unit_of_work() as uow:
        user = uow.users.get(identity.tenant_id, identity.user_id)
    if user is None and identity.email:
        # A first login: an admin may have added this person by email before.
        with storage.unit_of_work(write=True) as uow:
            uow.users.claim_invitation(_token_user(identity))
            uow.commit()
        # Whether this request or a racing one claimed it, the user now has the token's id.
        with storage.unit_of_work() as uow:
            user = uow.users.get(identity.tenant_id, identity.user_id)
    if user is None or (user.email, user.name, user.token_groups) != (
        identity.email,
        identity.name,
        identity.token_groups,
    ):
        with storage.unit_of_work(write=True) as uow:
            uow.users.record(_token_user(identity))
            uow.commit()
    granted = user.granted_groups if user else frozenset()
    return Principal(
        tenant_id=identity.tenant_id,
        user_id=identity.user_id,
        email=identity.email,
        name=identity.name,
        groups=identity.token_groups | granted,
        session_id=session_id,
    )


def _token_user(identity: Identity) -> User:
    return User(
        id=identity.user_id,
        tenant_id=identity.tenant_id,
        email=identity.email,
        name=identity.name,
        token_groups=identity.token_groups,
    )


def add_user(storage: Storage, principal: Principal, email: object, name: object = None) -> User:
    """Add a colleague by email before their first login; they keep what they are granted."""
    require_admin(principal)
    user = invited_user(principal.tenant_id, email, name)
    assert user.email is not None
    with storage.unit_of_work(write=True) as uow:
        if uow.users.email_taken(principal.tenant_id, user.email):
            raise email_already_used()
        uow.users.invite(user)
        event = changed(RecordCreated, principal, "user", user.id, f"Added {user.email}")
        return _committed(uow, principal, user.id, event)


def list_users(storage: Storage, principal: Principal) -> list[User]:
    """The tenant's users; testers are shown to testers only."""
    with storage.unit_of_work() as uow:
        users = uow.users.list(principal.tenant_id)
    return [user for user in users if principal.is_tester or not user.is_tester]


def get_user(storage: Storage, principal: Principal, user_id: str) -> User:
    """One user of the tenant."""
    with storage.unit_of_work() as uow:
        return _existing_user(uow, principal, user_id)


def grant_role(storage: Storage, principal: Principal, user_id: str, role: str) -> User:
    """Give a user a role (`admin` or `test`) within the tenant."""
    return add_to_group(storage, principal, user_id, _role_group(role))


def revoke_role(storage: Storage, principal: Principal, user_id: str, role: str) -> User:
    """Take a tenant-granted role (`admin` or `test`) away from a user."""
    return remove_from_group(storage, principal, user_id, _role_group(role))


def add_to_group(storage: Storage, principal: Principal, user_id: str, group: str) -> User:
    """Make a user a member of a group within the tenant."""
    return _change_membership(storage, principal, user_id, group, member=True)


def remove_from_group(storage: Storage, principal: Principal, user_id: str, group: str) -> User:
    """End a user's tenant-granted membership of a group."""
    return _change_membership(storage, principal, user_id, group, member=False)


def _change_membership(
    storage: Storage, principal: Principal, user_id: str, group: str, member: bool
) -> User:
    require_admin(principal)
    _check_group(group)
    with storage.unit_of_work(write=True) as uow:
        user = _existing_user(uow, principal, user_id)
        if not member and group in user.token_groups:
            raise RoleFromIdentityProvider(
                f"{group} comes from the identity provider's token; change it in the identity"
                " provider",
                {"group_name": "is given by the identity provider"},
            )
        change = uow.users.grant if member else uow.users.revoke
        change(principal.tenant_id, user_id, group)
        verb = "Added to" if member else "Removed from"
        event = changed(RecordUpdated, principal, "user", user_id, f"{verb} {group}")
        return _committed(uow, principal, user_id, event)


def is_member_of(storage: Storage, principal: Principal, user_id: str, group: str) -> bool:
    """Whether a user belongs to a group, by token or by grant."""
    require_admin(principal)
    _check_group(group)
    return group in get_user(storage, principal, user_id).groups


def require_admin(principal: Principal) -> None:
    """Refuse a caller who is not an admin: checked before their input is (403 before 400)."""
    if not principal.is_admin:
        raise Forbidden("Only admins can manage roles and groups")


def _role_group(role: str) -> str:
    if role not in ROLE_GROUPS:
        raise ValidationFailed(
            f"Unknown role {role!r}; roles are {', '.join(ROLE_GROUPS)}",
            {"role": f"must be one of {', '.join(ROLE_GROUPS)}"},
        )
    return ROLE_GROUPS[role]


def _check_group(group: object) -> None:
    if group not in GROUPS:
        raise ValidationFailed(
            f"Unknown group {group!r}; groups are {', '.join(GROUPS)}",
            {"group_name": f"must be one of {', '.join(GROUPS)}"},
        )


def _committed(uow: UnitOfWork, principal: Principal, user_id: str, event: RecordChanged) -> User:
    """The written user as the writing transaction sees them, committed with the change and its
    event (which carries the user so)."""
    user = _existing_user(uow, principal, user_id)
    uow.add_event(event, user)
    idempotency.commit(uow, user)
    return user


def _existing_user(uow: UnitOfWork, principal: Principal, user_id: str) -> User:
    user = uow.users.get(principal.tenant_id, user_id)
    if user is None:
        raise NotFound("User not found")
    return user
