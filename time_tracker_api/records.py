"""Records as the API returns them, for the events that go out (webhooks, AMQP): each container's
output model, the one its endpoints answer with."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

Serializer = Callable[[Any], Any]


@functools.cache
def _serializers() -> dict[str, Serializer]:
    # Imported on first use: the namespaces import the app's context, which imports storage.
    from time_tracker_api.activities.activities_namespace import activity
    from time_tracker_api.customers.customers_namespace import customer
    from time_tracker_api.project_types.project_types_namespace import project_type
    from time_tracker_api.projects.projects_namespace import project
    from time_tracker_api.serialization import compile_model
    from time_tracker_api.technologies.technologies_namespace import technology
    from time_tracker_api.time_entries.time_entries_namespace import entry
    from time_tracker_api.users.users_namespace import user

    models = {
        "activity": activity,
        "customer": customer,
        "project_type": project_type,
        "project": project,
        "technology": technology,
        "time_entry": entry,
        "user": user,
    }
    return {container: compile_model(model) for container, model in models.items()}


def record_format(container_id: str, record: object) -> Mapping[str, Any] | None:
    """The record of a container as the API answers with it; None for a container without one."""
    serialize = _serializers().get(container_id)
    return serialize(record) if serialize is not None else None
