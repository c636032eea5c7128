"""Logs of a service's tasks and of one task, as JSON lines (``?follow=1`` to go on).

Each line is ``{task, container, prefix, line, stopped}``; ``stopped`` marks output
kept from a task whose containers were removed. See :mod:`dockyard.server.service_logs`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter
from starlette.responses import StreamingResponse

from dockyard.errors import NotFound
from dockyard.server.deps import ControlPlaneDep, PlatformDep
from dockyard.server.ecs_shapes import arn_name
from dockyard.server.service_logs import LogView, owner_view, task_view

router = APIRouter(tags=["logs"])


def _stream(view: LogView, tail: int, follow: bool) -> StreamingResponse:
    def body() -> Iterator[bytes]:
        for item in view.lines(tail, follow):
            yield b"\n" if item is None else (json.dumps(item) + "\n").encode()

    return StreamingResponse(body(), media_type="application/x-ndjson")


@router.get("/services/{name}/logs", response_class=StreamingResponse)
def service_logs(
    name: str,
    platform: PlatformDep,
    control_plane: ControlPlaneDep,
    follow: bool = False,
    tail: int = 100,
) -> StreamingResponse:
    """Every task's output: running tasks, then recently stopped ones; with ``follow``,
    new lines and new tasks as they start."""
    name = arn_name(name)
    platform.store.services.require(name)  # 404 before the stream starts
    return _stream(owner_view(control_plane.tasks, f"service/{name}"), tail, follow)


@router.get("/tasks/{task}/logs", response_class=StreamingResponse)
def task_logs(
    task: str,
    platform: PlatformDep,
    control_plane: ControlPlaneDep,
    follow: bool = False,
    tail: int = 100,
) -> StreamingResponse:
    """One task's output (kept after its containers were removed)."""
    task_id = arn_name(task)
    view = task_view(control_plane.tasks, task_id)
    if platform.store.tasks.get(task_id) is None and not view.kept():
        raise NotFound(
            f"no task {task_id}",
            resource=f"task/{task_id}",
            hint="list tasks with `dockyard tasks`; a removed task's output is kept a while",
        )
    return _stream(view, tail, follow)
