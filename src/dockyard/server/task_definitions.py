"""The task-definition registry: families and their immutable revisions (ECS).

Every registration is a new revision ``family:N`` (ECS never edits one in place).
Services, endpoint variants and run-to-completion tasks (training hosts) all refer to
revisions by that key, so what a running task was started from is always readable
afterwards (``GET /v1/task-definitions/family:N``), and a rolling update is a change
of key.

Deregistering makes a revision INACTIVE, as in ECS: what already runs from it keeps
running (and a service on it may still replace or scale its tasks), but nothing new
may start from it: :func:`launchable` is the check RunTask and CreateService/
UpdateService make, and a family's name alone means its latest ACTIVE revision.
"""

from __future__ import annotations

import time
from typing import Any

from dockyard.errors import Conflict, NotFound, SpecError
from dockyard.ports.store import Store
from dockyard.records.task_definition import TaskDefinitionRecord
from dockyard.spec.errors import SpecValueError
from dockyard.spec.names import TaskDefinitionRef, parse_task_definition_ref
from dockyard.spec.task_definition import (
    RegisteredTaskDefinition,
    TaskDefinition,
    TaskDefinitionStatus,
)

STATUSES: tuple[TaskDefinitionStatus, ...] = ("ACTIVE", "INACTIVE")


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
    """The latest revision's key if it is this definition and ACTIVE, else a new revision's."""
    with store.transaction():
        latest = max(
            (r.registered for r in store.task_definitions.list(definition.family)),
            key=lambda r: r.revision,
            default=None,
        )
        if (
            latest is not None
            and latest.active
            and latest.definition.to_aws() == definition.to_aws()
        ):
            return latest.key
        return register(store, definition).key


def get(store: Store, key: str) -> RegisteredTaskDefinition:
    """The revision ``family:N``, whatever its status (running work may use INACTIVE ones)."""
    record = store.task_definitions.get(key)
    if record is None:
        raise NotFound(
            f"no task definition {key}",
            resource=f"task-definition/{key}",
            hint="list them with `dockyard task-definitions`",
        )
    return record.registered


def ref_of(text: str, field: str = "taskDefinition") -> TaskDefinitionRef:
    """``family``, ``family:N`` or an ARN, as a reference; SpecError naming ``field``."""
    try:
        return parse_task_definition_ref(text)
    except SpecValueError as error:
        raise SpecError(error.message, field=field, hint=error.hint) from None


def describe(store: Store, text: str) -> RegisteredTaskDefinition:
    """DescribeTaskDefinition: ``family:N`` (any status) or ``family`` (latest ACTIVE)."""
    ref = ref_of(text)
    if ref.revision is not None:
        return get(store, str(ref))
    active = [r.registered for r in store.task_definitions.list(ref.family) if r.registered.active]
    if not active:
        raise NotFound(
            f"family {ref.family} has no ACTIVE task definition",
            resource=f"task-definition/{ref.family}",
            hint="register one with `dockyard register-task-definition FILE`, "
            "or name an INACTIVE revision as family:revision",
        )
    return max(active, key=lambda r: r.revision)


def launchable(store: Store, text: str) -> RegisteredTaskDefinition:
    """The revision a new task or service may start from; Conflict if it is INACTIVE."""
    registered = describe(store, text)
    if not registered.active:
        raise Conflict(
            f"task definition {registered.key} is INACTIVE: new tasks and services cannot "
            "start from it",
            resource=f"task-definition/{registered.key}",
            hint=f"use an ACTIVE revision of {registered.family} "
            f"(`dockyard task-definitions --family {registered.family}`) or register a new one",
        )
    return registered


def deregister(store: Store, text: str) -> RegisteredTaskDefinition:
    """DeregisterTaskDefinition: the revision becomes INACTIVE (again: a no-op)."""
    ref = ref_of(text)
    if ref.revision is None:
        raise SpecError(
            f'"{text}" names a family; deregistering needs a revision',
            field="taskDefinition",
            hint=f'write "{ref.family}:REVISION", e.g. "{ref.family}:1"',
        )
    with store.transaction():
        registered = get(store, str(ref))
        if registered.active:
            registered = registered.model_copy(
                update={"status": "INACTIVE", "deregistered_at": time.time()}
            )
            store.task_definitions.put(TaskDefinitionRecord(registered))
    return registered


def list_revisions(
    store: Store, family: str | None = None, status: str | None = None
) -> list[RegisteredTaskDefinition]:
    """Revisions oldest first, of one family and/or one status (ACTIVE, INACTIVE)."""
    if status is not None and status not in STATUSES:
        raise SpecError(
            f'"{status}" is not a task definition status',
            field="status",
            hint=f"use one of: {', '.join(STATUSES)}",
        )
    revisions = sorted(
        (r.registered for r in store.task_definitions.list(family)),
        key=lambda r: (r.family, r.revision),
    )
    return [r for r in revisions if status is None or r.status == status]


def describe_all(
    store: Store, family: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """DescribeTaskDefinition's objects, oldest first."""
    return [r.to_aws() for r in list_revisions(store, family, status)]
