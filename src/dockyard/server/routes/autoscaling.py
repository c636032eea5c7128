"""Application Auto Scaling for ECS services: scalable targets, policies, scheduled actions.

Bodies are AAS's requests as written (``aws application-autoscaling
register-scalable-target --cli-input-json``): ``ServiceNamespace`` ``ecs``,
``ResourceId`` ``service/default/NAME``, ``ScalableDimension``
``ecs:service:DesiredCount``. Every refusal is a 4xx naming the field, and stores
nothing. ``GET /autoscaling/services/NAME`` is Dockyard's summary for the CLI.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from dockyard.server import autoscaling
from dockyard.server.deps import PlatformDep

router = APIRouter(prefix="/autoscaling", tags=["autoscaling"])


@router.post("/targets")
def register_scalable_target(
    platform: PlatformDep,
    request: Any = Body(..., description="A RegisterScalableTarget request."),  # noqa: B008
) -> dict[str, Any]:
    return autoscaling.register_target(platform, request)


@router.get("/targets")
def describe_scalable_targets(platform: PlatformDep) -> dict[str, Any]:
    return autoscaling.describe_targets(platform)


@router.delete("/targets/{service}")
def deregister_scalable_target(service: str, platform: PlatformDep) -> dict[str, Any]:
    """The target goes, and its policies and scheduled actions with it."""
    return autoscaling.deregister_target(platform, service)


@router.post("/policies")
def put_scaling_policy(
    platform: PlatformDep,
    request: Any = Body(..., description="A PutScalingPolicy request."),  # noqa: B008
) -> dict[str, Any]:
    return autoscaling.put_policy(platform, request)


@router.get("/policies")
def describe_scaling_policies(platform: PlatformDep, service: str | None = None) -> dict[str, Any]:
    return autoscaling.describe_policies(platform, service)


@router.delete("/policies/{service}/{name}")
def delete_scaling_policy(service: str, name: str, platform: PlatformDep) -> dict[str, Any]:
    return autoscaling.delete_policy(platform, service, name)


@router.post("/scheduled-actions")
def put_scheduled_action(
    platform: PlatformDep,
    request: Any = Body(..., description="A PutScheduledAction request."),  # noqa: B008
) -> dict[str, Any]:
    return autoscaling.put_scheduled_action(platform, request)


@router.get("/scheduled-actions")
def describe_scheduled_actions(platform: PlatformDep, service: str | None = None) -> dict[str, Any]:
    return autoscaling.describe_scheduled_actions(platform, service)


@router.delete("/scheduled-actions/{service}/{name}")
def delete_scheduled_action(service: str, name: str, platform: PlatformDep) -> dict[str, Any]:
    return autoscaling.delete_scheduled_action(platform, service, name)


@router.get("/activities/{service}")
def describe_scaling_activities(service: str, platform: PlatformDep) -> dict[str, Any]:
    return autoscaling.activities(platform, service)


@router.get("/services/{service}")
def describe_service_scaling(service: str, platform: PlatformDep) -> dict[str, Any]:
    return autoscaling.describe(platform, service)
