"""Flag evaluation with Microsoft's `featuremanagement` library, for one snapshot of flags."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from featuremanagement import (
    FeatureFilter,
    FeatureFlag,
    FeatureManager,
    TargetingContext,
    TargetingFilter,
)

from commons.domain.principal import Principal

logger = logging.getLogger(__name__)


@FeatureFilter.alias("Microsoft.Targeting")
class IdOrEmailTargetingFilter(TargetingFilter):
    """`Microsoft.Targeting` where `Audience.Users` and `Exclusion.Users` may name a user by id
    (exactly, as every id is compared) or by email (case-insensitively).

    The library compares users by exact equality with one `user_id`; here every entry naming the
    caller is rewritten to the caller's id first, so the library's own rules still decide
    (exclusions win, then users, then groups, then the rollout hashed on the stable id).
    """

    def evaluate(self, context: Mapping[Any, Any], **kwargs: Any) -> bool:
        """Whether the caller is in the flag's audience."""
        user_id, email = kwargs.get("user"), kwargs.get("email")
        if user_id:
            context = _users_named_by_id(context, user_id, email.casefold() if email else None)
        return bool(super().evaluate(context, **kwargs))


def _users_named_by_id(
    context: Mapping[Any, Any], user_id: str, email: str | None
) -> Mapping[Any, Any]:
    parameters = context.get("parameters")
    if not isinstance(parameters, Mapping) or not isinstance(parameters.get("Audience"), Mapping):
        return context  # the library explains what is missing

    def by_id(users: Any) -> Any:
        if not isinstance(users, list):
            return users
        return [
            user_id
            if isinstance(user, str) and (user == user_id or user.casefold() == email)
            else user
            for user in users
        ]

    audience = {**parameters["Audience"]}
    audience["Users"] = by_id(audience.get("Users", []))
    exclusion = audience.get("Exclusion")
    if isinstance(exclusion, Mapping):
        audience["Exclusion"] = {**exclusion, "Users": by_id(exclusion.get("Users", []))}
    return {**context, "parameters": {**parameters, "Audience": audience}}


class FlagSet:
    """An immutable snapshot of valid flag definitions and the manager that evaluates them."""

    def __init__(self, definitions: Iterable[Any] = ()):
        flags: dict[str, dict[str, Any]] = {}
        for definition in definitions:
            name = _valid_name(definition)
            if name is not None:
                flags[name] = copy.deepcopy(definition)  # the last definition of a name wins
        self.names: tuple[str, ...] = tuple(sorted(flags))
        self._manager = FeatureManager(
            {"feature_management": {"feature_flags": list(flags.values())}},
            feature_filters=[IdOrEmailTargetingFilter()],
        )
        self._reported: set[str] = set()
        self._report_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def is_enabled(self, name: str, principal: Principal) -> bool:
        """Whether the flag is on for the caller; an undefined or broken flag is off."""
        if name not in self.names:
            return False
        context = TargetingContext(user_id=principal.user_id, groups=sorted(principal.groups))
        try:
            # The library accepts a TargetingContext here, though its typed overload names only
            # a user id; extra keywords reach the filters.
            enabled = self._manager.is_enabled(  # type: ignore[call-overload]
                name, context, email=principal.email, ignore_case=True
            )
            return bool(enabled)
        except Exception as error:  # a badly written flag must never fail a request
            self._report_once(name, error)
            return False

    def _report_once(self, name: str, error: Exception) -> None:
        with self._report_lock:
            if name in self._reported:
                return
            self._reported.add(name)
        logger.warning("Feature flag %r cannot be evaluated and counts as off: %s", name, error)


def _valid_name(definition: Any) -> str | None:
    """The flag's name when the library accepts its definition; logs and skips it otherwise."""
    name = definition.get("id") if isinstance(definition, dict) else None
    if not isinstance(name, str) or not name:
        logger.warning("Skipping a feature flag without an id: %.200r", definition)
        return None
    try:
        # Conversion validates `enabled` and `conditions` (and annotates the filters it gets,
        # hence the copy).
        FeatureFlag.convert_from_json(copy.deepcopy(definition))
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        logger.warning("Skipping the invalid feature flag %r: %s", name, error)
        return None
    return name
