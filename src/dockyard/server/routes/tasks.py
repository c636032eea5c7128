"""ECS's tasks: list, describe, RunTask, StopTask (task definitions: ``task_definitions``).

Every container Dockyard runs belongs to a task, whatever started it (an endpoint
variant, a training host, an ECS service, a RunTask), so this is where to look when a
replica misbehaves: lastStatus, exit codes, stop code and reason, as ECS reports them
(the shapes are in :mod:`dockyard.server.ecs_shapes`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from dockyard.errors import NotFound
from dockyard.server import standalone_tasks
from dockyard.server.deps import PlatformDep
from dockyard.server.ecs_shapes import arn_name, describe_task

router = APIRouter(tags=["tasks"])

__all__ = ["describe_task", "router"]


@router.get("/tasks")
def list_tasks(platform: PlatformDep, startedBy: str | None = None) -> dict[str, Any]:  # noqa: N803
    """Tasks not yet reaped, optionally of one owner (``service/NAME``,
    ``training-job/NAME``, ``run-task``) or of one RunTask ``startedBy``."""
    records = platform.store.tasks.list(startedBy)
    if startedBy is not None:
        records += standalone_tasks.standalone_started_by(platform.store, startedBy)
    return {"tasks": [describe_task(record) for record in records]}


@router.get("/tasks/{task}")
def get_task(task: str, platform: PlatformDep) -> dict[str, Any]:
    """DescribeTasks of one task, by id or ARN."""
    record = platform.store.tasks.get(arn_name(task))
    if record is None:
        raise NotFound(
            f"no task {task}",
            resource=f"task/{task}",
            hint="list tasks with `dockyard tasks` (stopped standalone tasks stay an hour)",
        )
    return {"task": describe_task(record)}


@router.post("/tasks", status_code=201)
def run_task(
    platform: PlatformDep,
    request: Any = Body(..., description="A RunTask request."),  # noqa: B008
) -> dict[str, Any]:
    """Start ``count`` tasks of an ACTIVE revision outside any service."""
    return standalone_tasks.run_task(platform, request)


class StopTaskRequest(BaseModel):
    reason: str | None = None


@router.post("/tasks/{task}/stop")
def stop_task(
    task: str, platform: PlatformDep, request: StopTaskRequest | None = None
) -> dict[str, Any]:
    """StopTask (stopCode UserInitiated); a service's task is replaced by its service."""
    return standalone_tasks.stop_task(platform, task, request.reason if request else None)
