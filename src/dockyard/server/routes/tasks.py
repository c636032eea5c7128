"""ECS's shapes: task definitions (register, describe) and tasks (list, describe).

Every container Dockyard runs belongs to a task, whatever started it (an endpoint
variant, a training host, later an ECS service), so this is where to look when a
replica misbehaves: lastStatus, exit codes, stop code and reason, as ECS reports them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from dockyard.records.task import TaskRecord
from dockyard.server import task_definitions
from dockyard.server.deps import PlatformDep
from dockyard.spec.task_definition import parse_task_definition

router = APIRouter(tags=["tasks"])


@router.post("/task-definitions", status_code=201)
def register_task_definition(
    platform: PlatformDep,
    request: dict[str, Any] = Body(..., description="A RegisterTaskDefinition request."),  # noqa: B008
) -> dict[str, Any]:
    """Validate an ECS task definition and register it as the family's next revision."""
    definition = parse_task_definition(request)
    registered = task_definitions.register(platform.store, definition)
    return {"taskDefinition": registered.to_aws()}


@router.get("/task-definitions")
def list_task_definitions(platform: PlatformDep, family: str | None = None) -> dict[str, Any]:
    return {"taskDefinitions": task_definitions.describe_all(platform.store, family)}


@router.get("/task-definitions/{key}")
def describe_task_definition(key: str, platform: PlatformDep) -> dict[str, Any]:
    return {"taskDefinition": task_definitions.get(platform.store, key).to_aws()}


def describe_task(record: TaskRecord) -> dict[str, Any]:
    """DescribeTasks' task object (ids instead of ARNs, times as epoch seconds)."""
    task = record.task
    return {
        "taskId": task.task_id,
        "taskDefinition": task.revision,
        "startedBy": record.owner,
        "lastStatus": task.last_status,
        "desiredStatus": task.desired_status,
        "healthStatus": task.health_status,
        "createdAt": task.created_at,
        "startedAt": task.started_at,
        "stoppingAt": task.stopping_at,
        "stoppedAt": task.stopped_at,
        "stopCode": task.stop_code,
        "stoppedReason": task.stopped_reason,
        "containers": [
            {
                "name": c.name,
                "runtimeId": c.container_id,
                "lastStatus": c.last_status,
                "exitCode": c.exit_code,
                "reason": c.reason,
                "healthStatus": c.health,
                "essential": c.essential,
            }
            for c in task.containers
        ],
    }


@router.get("/tasks")
def list_tasks(platform: PlatformDep, startedBy: str | None = None) -> dict[str, Any]:  # noqa: N803
    """Tasks not yet reaped, optionally of one owner (``service/NAME``, ``training-job/NAME``)."""
    return {"tasks": [describe_task(record) for record in platform.store.tasks.list(startedBy)]}
