"""Endpoints: deploy (create or update), describe with replicas, list, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from dockyard.server import endpoint_capacity, endpoints
from dockyard.server.deps import ControlPlaneDep, PlatformDep

router = APIRouter(tags=["endpoints"])


class DeployRequest(BaseModel):
    """CreateModel + CreateEndpointConfig + CreateEndpoint in one call (like the SDK's
    ``model.deploy()``); validated against SageMaker's rules when the resources are made."""

    EndpointName: str
    Image: str | None = Field(default=None, description="The image (one container).")
    Containers: list[dict[str, Any]] | None = Field(
        default=None,
        description="Several containers instead of Image (2-15): "
        '[{"ContainerHostname": "pre", "Image": "...", "ModelDataUrl": "...", '
        '"Environment": {}}], a serial inference pipeline unless '
        "InferenceExecutionConfig.Mode is Direct.",
    )
    InferenceExecutionConfig: dict[str, str] | None = Field(
        default=None,
        description='With Containers: {"Mode": "Serial"} (the default) or {"Mode": "Direct"}.',
    )
    ModelDataUrl: str | None = Field(
        default=None,
        description="model.tar.gz to extract to /opt/ml/model: an absolute path, "
        "file:///absolute/path, s3://bucket/key in the artifact store, or training-job:NAME.",
    )
    Mode: str = Field(
        default="SingleModel",
        description="MultiModel: ModelDataUrl is a prefix (folder) of model archives, each "
        "loaded on the first request that names it as TargetModel.",
    )
    InstanceCount: int = Field(default=1, description="InitialInstanceCount.")
    VariantName: str | None = None
    Environment: dict[str, str] = Field(default_factory=dict)
    ContainerStartupHealthCheckTimeoutInSeconds: int = 240


@router.post("/endpoints", status_code=201)
def deploy(request: DeployRequest, platform: PlatformDep) -> dict[str, Any]:
    return endpoints.deploy(platform, request.model_dump())


@router.get("/endpoints")
def list_endpoints(platform: PlatformDep) -> dict[str, Any]:
    return {"Endpoints": endpoints.list_endpoints(platform)}


@router.get("/endpoints/{name}")
def describe_endpoint(name: str, platform: PlatformDep) -> dict[str, Any]:
    return endpoints.describe(platform, name)


@router.delete("/endpoints/{name}", status_code=202)
def delete_endpoint(name: str, platform: PlatformDep) -> dict[str, Any]:
    endpoints.delete(platform, name)
    return {"EndpointName": name, "EndpointStatus": "Deleting"}


@router.post("/endpoints/{name}/capacity")
def update_capacity(
    name: str,
    platform: PlatformDep,
    request: Any = Body(  # noqa: B008
        ..., description='{"DesiredInstanceCount": N, "VariantName": "AllTraffic"}'
    ),
) -> dict[str, Any]:
    """Resize a variant in place (UpdateEndpointWeightsAndCapacities' instance count):
    replicas are added or drained; nothing else changes."""
    return endpoint_capacity.update_capacity(platform, name, request)


@router.post("/endpoints/{name}/weights-and-capacities")
def update_weights_and_capacities(
    name: str,
    platform: PlatformDep,
    request: Any = Body(  # noqa: B008
        ...,
        description='{"DesiredWeightsAndCapacities": [{"VariantName": "A", "DesiredWeight": 0.8, '
        '"DesiredInstanceCount": 2}]} (UpdateEndpointWeightsAndCapacities)',
    ),
) -> dict[str, Any]:
    """Change variants' weights (at once, in the load balancer; no replica restarts) and
    instance counts (replicas added or drained)."""
    return endpoint_capacity.update_weights_and_capacities(platform, name, request)


@router.get("/endpoints/{name}/logs")
def endpoint_logs(
    name: str, platform: PlatformDep, control_plane: ControlPlaneDep, tail: int = 100
) -> dict[str, Any]:
    """The last ``tail`` lines of every replica: running ones, then recently stopped ones
    (whose output was kept when their containers were removed)."""
    record = platform.store.endpoints.require(name)
    tasks = control_plane.tasks
    replicas: list[dict[str, Any]] = []
    for service in record.service_names:
        owner = f"service/{service}"
        for task in tasks.records(owner):
            for container, state in tasks.observe_task(task.task.task_id).items():
                lines = list(tasks.output.live(task.task.task_id, state))[-tail:]
                replicas.append(
                    {
                        "Replica": f"{task.task.task_id[:8]}/{container}",
                        "Stopped": False,
                        "Lines": lines,
                    }
                )
        for stem, lines in tasks.output.kept(owner):
            replicas.append({"Replica": stem[:8], "Stopped": True, "Lines": lines[-tail:]})
    return {"EndpointName": name, "Replicas": replicas}
