"""The task-definition registry: families and their immutable revisions (ECS).

Every registration is a new revision ``family:N`` (ECS never edits one in place).
Services, endpoint variants and run-to-completion tasks (training hosts) all refer to
revisions by that key, so what a running task was started from is always readable
afterwards (``GET /v1/task-definitions/family:N``), and a rolling update is a change
of key.
"""

from __future__ import annotations

import time
from typing import Any

from dockyard.errors import NotFound
from dockyard.ports.store import Store
from dockyard.records.task_definition import TaskDefinitionRecord
from dockyard.spec.task_definition import RegisteredTaskDefinition, TaskDefinition


def register(store: Store, definition: TaskDefinition) -> RegisteredTaskDefinition:
    """Register the next revision of the definition's family."""
    with store.transaction():
        revisions = store.task_definitions.list(definition.family)
        number = max((r.registered.revision for r in revisions), default=0) + 1
        registered = RegisteredTaskDefinition(
            family=definition.family,
            revision=number,
            definition=definition,
            registered_at=time.time(),
        )
        store.task_definitions.put(TaskDefinitionRecord(registered))
    return registered


def ensure_registered(store: Store, definition: TaskDefinition) -> str:
    """The latest revision's key if it is this definition, else a new revision's."""
    with store.transaction():
        latest = max(
            (r.registered for r in store.task_definitions.list(definition.family)),
            key=lambda r: r.revision,
            default=None,
        )
        if latest is not None and latest.definition.to_aws() == definition.to_aws():
            return latest.key
        return register(store, definition).key


def get(store: Store, key: str) -> RegisteredTaskDefinition:
    record = store.task_definitions.get(key)
    if record is None:
        raise NotFound(
            f"no task definition {key}",
            resource=f"task-definition/{key}",
            hint="list them with `dockyard task-definitions`",
        )
    return record.registered


def describe_all(store: Store, family: str | None = None) -> list[dict[str, Any]]:
    """DescribeTaskDefinition's objects, oldest first."""
    return [r.registered.to_aws() for r in store.task_definitions.list(family)]
