"""The task-definition registry: families and their immutable revisions (ECS).

Every registration is a new revision ``family:N`` (ECS never edits one in place).
Services and endpoint variants refer to revisions by that key, so what a running
task was started from is always readable afterwards, and a rolling update is a
change of key.
"""

from __future__ import annotations

import time
from typing import Any

from dockyard.adapters.store.sqlite import Store
from dockyard.errors import NotFound
from dockyard.spec.task_definition import RegisteredTaskDefinition, TaskDefinition
from dockyard.spec.task_definition import parse_task_definition as parse

KIND = "task_definition"


def _to_doc(registered: RegisteredTaskDefinition) -> dict[str, Any]:
    return {
        "family": registered.family,
        "revision": registered.revision,
        "status": registered.status,
        "registeredAt": registered.registered_at,
        "definition": registered.definition.to_aws(),
    }


def _from_doc(doc: dict[str, Any]) -> RegisteredTaskDefinition:
    return RegisteredTaskDefinition(
        family=doc["family"],
        revision=doc["revision"],
        status=doc["status"],
        definition=parse(doc["definition"]),
        registered_at=doc.get("registeredAt"),
    )


def register(store: Store, definition: TaskDefinition) -> RegisteredTaskDefinition:
    """Register the next revision of the definition's family."""
    with store.transaction():
        revisions = store.list(KIND, owner=definition.family)
        number = max((doc["revision"] for doc in revisions), default=0) + 1
        registered = RegisteredTaskDefinition(
            family=definition.family,
            revision=number,
            definition=definition,
            registered_at=time.time(),
        )
        store.put(KIND, registered.key, _to_doc(registered), owner=definition.family)
    return registered


def ensure_registered(store: Store, definition: TaskDefinition) -> str:
    """The latest revision's key if it is this definition, else a new revision's."""
    latest = max(
        store.list(KIND, owner=definition.family), key=lambda d: d["revision"], default=None
    )
    if latest is not None and latest["definition"] == definition.to_aws():
        return f"{latest['family']}:{latest['revision']}"
    return register(store, definition).key


def get(store: Store, key: str) -> RegisteredTaskDefinition:
    doc = store.get(KIND, key)
    if doc is None:
        raise NotFound(
            f"no task definition {key}",
            resource=f"task-definition/{key}",
            hint="list them with `dockyard task-definitions`",
        )
    return _from_doc(doc)


def describe_all(store: Store, family: str | None = None) -> list[dict[str, Any]]:
    """DescribeTaskDefinition's objects, oldest first."""
    docs = store.list(KIND, owner=family) if family else store.list(KIND)
    return [_from_doc(doc).to_aws() for doc in docs]
