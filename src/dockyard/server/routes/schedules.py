"""Scheduled tasks (``/v1/schedules``): create, list, describe, delete, run now.

A schedule launches an ECS RunTask at each firing (``rate()``, EventBridge
``cron()`` or a standard 5-field cron line, UTC); see :mod:`dockyard.server.schedules`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from dockyard.server import schedules
from dockyard.server.deps import PlatformDep

router = APIRouter(tags=["schedules"])


@router.post("/schedules", status_code=201)
def create_schedule(
    platform: PlatformDep,
    request: Any = Body(  # noqa: B008
        ...,
        description="name, scheduleExpression and a RunTask request "
        "(taskDefinition, count, overrides, launchType).",
    ),
) -> dict[str, Any]:
    """Create a schedule; the revision and overrides are checked now, not at 2 a.m."""
    return schedules.create(platform, request)


@router.get("/schedules")
def list_schedules(platform: PlatformDep) -> dict[str, Any]:
    """Every schedule with its next run."""
    store = platform.store
    return {"schedules": [schedules.described(store, r) for r in store.schedules.list()]}


@router.get("/schedules/{name}")
def describe_schedule(name: str, platform: PlatformDep) -> dict[str, Any]:
    """One schedule: expression, request, next and last run, its tasks still listed."""
    record = platform.store.schedules.require(name)
    return {"schedule": schedules.described(platform.store, record)}


@router.delete("/schedules/{name}")
def delete_schedule(name: str, platform: PlatformDep) -> dict[str, Any]:
    """Delete the schedule (its running tasks are left alone)."""
    return schedules.delete(platform, name)


@router.post("/schedules/{name}/run")
def run_schedule_now(name: str, platform: PlatformDep) -> dict[str, Any]:
    """Launch the schedule's RunTask now (RunTask's response)."""
    return schedules.run_now(platform, name)
