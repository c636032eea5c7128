"""ECS's shapes for tasks (list, describe); task definitions live in ``task_definitions``.

Every container Dockyard runs belongs to a task, whatever started it (an endpoint
variant, a training host, later an ECS service), so this is where to look when a
replica misbehaves: lastStatus, exit codes, stop code and reason, as ECS reports them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dockyard.records.task import TaskRecord
from dockyard.server.deps import PlatformDep

router = APIRouter(tags=["tasks"])


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
