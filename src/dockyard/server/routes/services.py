"""ECS services: CreateService, DescribeServices, UpdateService, DeleteService.

Bodies are ECS's requests as written (``aws ecs create-service --cli-input-json``);
answers carry ECS's ``Service`` shape under ``service`` (``services`` for the list),
plus Dockyard's ``url`` (where the load balancer serves it) and ``tasks`` (each with a
one-word ``health``). Every refusal is a 4xx naming the field, and stores nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from dockyard.server import ecs_services
from dockyard.server.deps import PlatformDep

router = APIRouter(tags=["services"])


@router.post("/services", status_code=201)
def create_service(
    platform: PlatformDep,
    request: Any = Body(..., description="A CreateService request."),  # noqa: B008
) -> dict[str, Any]:
    return ecs_services.create(platform, request)


@router.get("/services")
def list_services(platform: PlatformDep) -> dict[str, Any]:
    """Services users created (endpoints' variants are listed with the endpoints)."""
    return ecs_services.list_services(platform)


@router.get("/services/{name}")
def describe_service(name: str, platform: PlatformDep) -> dict[str, Any]:
    return ecs_services.describe(platform, name)


@router.post("/services/{name}")
def update_service(
    name: str,
    platform: PlatformDep,
    request: Any = Body(..., description="An UpdateService request."),  # noqa: B008
) -> dict[str, Any]:
    return ecs_services.update(platform, name, request)


@router.delete("/services/{name}")
def delete_service(name: str, platform: PlatformDep, force: bool = False) -> dict[str, Any]:
    """DRAINING at once; gone once its tasks stopped. Refused while desiredCount > 0
    unless ``force``."""
    return ecs_services.delete(platform, name, force=force)


@router.get("/target-groups/{name:path}/attributes")
def describe_target_group_attributes(name: str, platform: PlatformDep) -> dict[str, Any]:
    """ELB's DescribeTargetGroupAttributes for a service's target group (name or ARN)."""
    return ecs_services.describe_attributes(platform, name)


@router.put("/target-groups/{name:path}/attributes")
def modify_target_group_attributes(
    name: str,
    platform: PlatformDep,
    request: Any = Body(..., description="ELB's ModifyTargetGroupAttributes request."),  # noqa: B008
) -> dict[str, Any]:
    """Algorithm, slow start and deregistration delay of a service's target group."""
    return ecs_services.modify_attributes_of(platform, name, request)
