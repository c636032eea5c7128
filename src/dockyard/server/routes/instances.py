"""Container instances of the EC2 launch type: register, list, drain, deregister.

ECS's RegisterContainerInstance / ListContainerInstances +
DescribeContainerInstances / UpdateContainerInstancesState /
DeregisterContainerInstance, on engines: an instance is a container engine reached at
its URL (see :mod:`dockyard.server.instances`). Answers carry ECS's
``ContainerInstance`` shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from dockyard.server import instances
from dockyard.server.deps import PlatformDep

router = APIRouter(tags=["container instances"])
REGISTER_BODY = '{"engineUrl", "cpu"?, "memory"?, "attributes"?, "address"?}'


@router.get("/container-instances")
def list_container_instances(platform: PlatformDep) -> dict[str, Any]:
    instances.ensure_default(platform)
    return instances.list_instances(platform)


@router.post("/container-instances", status_code=201)
def register_container_instance(
    platform: PlatformDep,
    request: Any = Body(..., description=REGISTER_BODY),  # noqa: B008
) -> dict[str, Any]:
    instances.ensure_default(platform)
    return instances.register(platform, request)


@router.get("/container-instances/{instance}")
def describe_container_instance(instance: str, platform: PlatformDep) -> dict[str, Any]:
    instances.ensure_default(platform)
    record = instances.require(platform, instance)
    return {"containerInstance": instances.describe_instance(platform, record)}


@router.put("/container-instances/{instance}/status")
def update_container_instance_state(
    instance: str,
    platform: PlatformDep,
    request: Any = Body(..., description='{"status": "ACTIVE" | "DRAINING"}'),  # noqa: B008
) -> dict[str, Any]:
    status = request.get("status") if isinstance(request, dict) else None
    return instances.set_status(platform, instance, str(status))


@router.delete("/container-instances/{instance}")
def deregister_container_instance(
    instance: str, platform: PlatformDep, force: bool = False
) -> dict[str, Any]:
    """Refused while tasks run there, unless ``force``."""
    return instances.deregister(platform, instance, force=force)
