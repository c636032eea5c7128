"""A model of several containers (serial inference pipeline or Direct mode) as one task.

Each replica is one ECS-style task in ``awsvpc`` mode: its containers share one network
namespace (held by the task's namespace holder, see :mod:`dockyard.control.task_network`),
so they reach each other on loopback. Per the SageMaker contract each model container
gets its own port in ``SAGEMAKER_BIND_TO_PORT`` (8081, 8082, ... in order) and a spare
range in ``SAGEMAKER_SAFE_PORT_RANGE``; its own ``ModelDataUrl`` is mounted read-only
at ``/opt/ml/model``. One more container, the router
(:mod:`dockyard.runtime.pipeline.router`), listens on the replica's port 8080, where
the load balancer sends requests and health checks: it chains the containers (Serial)
or picks the one a request names (Direct), and answers /ping only when every
container's /ping does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dockyard.errors import SpecError
from dockyard.spec.endpoint import MIN_PIPELINE_CONTAINERS, ROUTER_CONTAINER, Model
from dockyard.spec.task_definition import TaskDefinition, parse_task_definition

ENTRY_PORT = 8080
FIRST_CONTAINER_PORT = 8081
SAFE_PORTS_START = 9000
SAFE_PORTS_EACH = 100
MODEL_DIR = "/opt/ml/model"
SERVE_STOP_TIMEOUT_S = 30


def container_port(index: int) -> int:
    """``SAGEMAKER_BIND_TO_PORT`` of container ``index`` (0-based)."""
    return FIRST_CONTAINER_PORT + index


def safe_port_range(index: int) -> str:
    """``SAGEMAKER_SAFE_PORT_RANGE`` of container ``index``: "XXXX-YYYY", inclusive."""
    low = SAFE_PORTS_START + index * SAFE_PORTS_EACH
    return f"{low}-{low + SAFE_PORTS_EACH - 1}"


def model_volume(index: int) -> str:
    """The task definition's volume holding container ``index``'s model artifact."""
    return f"model-{index}"


def model_dir_key(model_name: str, index: int) -> str:
    """Key of container ``index``'s extracted ModelDataUrl in the ``model_dirs`` map."""
    return f"{model_name}/{index}"


def pipeline_task_definition(
    family: str,
    model: Model,
    model_dirs: Mapping[str, str],
    router_image: str | None,
    *,
    field: str,
) -> TaskDefinition:
    """The task of one replica: every container of ``model`` plus the router."""
    count = len(model.containers)
    if count < MIN_PIPELINE_CONTAINERS:
        raise SpecError(
            f"model {model.model_name} has {count} container in Containers; a multi-container "
            f"model needs {MIN_PIPELINE_CONTAINERS} to 15",
            field=field,
            hint="use PrimaryContainer for one image",
        )
    if router_image is None:
        raise ValueError("a multi-container model needs the router image")
    containers: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    hops = []
    for index, spec in enumerate(model.containers):
        name = model.hostname_of(index)
        port = container_port(index)
        hops.append({"hostname": name, "port": port})
        environment = {
            **spec.environment,
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "SAGEMAKER_SAFE_PORT_RANGE": safe_port_range(index),
        }
        container: dict[str, Any] = {
            "name": name,
            "image": spec.image,
            "command": ["serve"],
            "essential": True,
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            "stopTimeout": SERVE_STOP_TIMEOUT_S,
        }
        if spec.model_data_url is not None:
            key = model_dir_key(model.model_name, index)
            if key not in model_dirs:
                raise KeyError(f"no extracted model directory given for {key}")
            volume = model_volume(index)
            volumes.append({"name": volume, "host": {"sourcePath": model_dirs[key]}})
            container["mountPoints"] = [
                {"sourceVolume": volume, "containerPath": MODEL_DIR, "readOnly": True}
            ]
        containers.append(container)
    router = {
        "name": ROUTER_CONTAINER,
        "image": router_image,
        "essential": True,
        "portMappings": [{"containerPort": ENTRY_PORT, "protocol": "tcp"}],
        "environment": [
            {"name": "DOCKYARD_PIPELINE", "value": json.dumps(hops)},
            {"name": "DOCKYARD_PIPELINE_MODE", "value": model.execution_mode},
            {"name": "DOCKYARD_PIPELINE_PORT", "value": str(ENTRY_PORT)},
        ],
        "stopTimeout": SERVE_STOP_TIMEOUT_S,
    }
    doc: dict[str, Any] = {
        "family": family,
        "networkMode": "awsvpc",
        "containerDefinitions": [*containers, router],
    }
    if volumes:
        doc["volumes"] = volumes
    return parse_task_definition(doc)
