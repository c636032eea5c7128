"""ECS's task-definition calls: register, describe, list, deregister.

Responses keep ECS's shapes (``{"taskDefinition": {...}, "tags": [...]}``) so code
written against ECS reads them unchanged. Registration adds ``warnings``: the members
accepted and kept as written that Dockyard does not act on, so a user is never
surprised that a ``dockerLabels`` or a placement constraint changed nothing. A request
that fails validation is a 400 whose body lists every problem (``errors``) and
stores nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from dockyard.server import task_definitions
from dockyard.server.deps import PlatformDep
from dockyard.spec.task_definition import RegisteredTaskDefinition, parse_task_definition, warnings

router = APIRouter(tags=["task definitions"])


def _described(registered: RegisteredTaskDefinition) -> dict[str, Any]:
    return {"taskDefinition": registered.to_aws(), "tags": registered.tags}


@router.post("/task-definitions", status_code=201)
def register_task_definition(
    platform: PlatformDep,
    request: dict[str, Any] = Body(..., description="A RegisterTaskDefinition request."),  # noqa: B008
) -> dict[str, Any]:
    """Validate an ECS task definition and register it as the family's next revision."""
    definition = parse_task_definition(request)
    registered = task_definitions.register(platform.store, definition)
    return {**_described(registered), "warnings": warnings(definition)}


@router.get("/task-definitions")
def list_task_definitions(
    platform: PlatformDep, family: str | None = None, status: str | None = None
) -> dict[str, Any]:
    """Every revision oldest first (ListTaskDefinitions' keys and the objects themselves)."""
    revisions = task_definitions.list_revisions(platform.store, family, status)
    return {
        "taskDefinitionArns": [r.key for r in revisions],
        "taskDefinitions": [r.to_aws() for r in revisions],
    }


@router.get("/task-definitions/{key}")
def describe_task_definition(key: str, platform: PlatformDep) -> dict[str, Any]:
    """``family:N`` (any status) or ``family`` (its latest ACTIVE revision)."""
    return _described(task_definitions.describe(platform.store, key))


@router.post("/task-definitions/{key}/deregister")
def deregister_task_definition(key: str, platform: PlatformDep) -> dict[str, Any]:
    """Make ``family:N`` INACTIVE: what runs keeps running, nothing new starts from it."""
    return {"taskDefinition": task_definitions.deregister(platform.store, key).to_aws()}
