"""Real-time endpoints: SageMaker's Model → EndpointConfig → Endpoint, as services.

``deploy`` is the SDK's ``model.deploy()`` in one call: it writes the three
SageMaker resources, extracts the model artifact once (content-addressed, shared by
every replica and re-deploy), and saves one service per production variant. The
service scheduler does the rest; this module only derives the endpoint's status and
describes its replicas.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

from dockyard.adapters.artifacts.local import extract_model_tarball, parse_uri
from dockyard.control.endpoint import (
    EndpointStatus,
    VariantProgress,
    VariantService,
    endpoint_status,
    ever_ready,
    variant_services,
)
from dockyard.control.task import TaskStatus
from dockyard.errors import Conflict, SpecError
from dockyard.server.platform import Platform
from dockyard.server.services import KIND as SERVICE_KIND
from dockyard.server.services import LbTarget, ServiceController, save_service
from dockyard.server.tasks import Placement
from dockyard.spec.endpoint import parse_endpoint, parse_endpoint_config, parse_model

KIND = "endpoint"
DEFAULT_VARIANT = "AllTraffic"
SETTLED = (EndpointStatus.IN_SERVICE, EndpointStatus.FAILED)


def _model_dir(platform: Platform, model_data_url: str) -> Path:
    """Extract a model artifact once per content; replicas mount the result read-only."""
    if model_data_url.startswith("s3://"):
        tarball = platform.artifacts.local_path(parse_uri(model_data_url, field="ModelDataUrl"))
    else:
        tarball = Path(model_data_url.removeprefix("file://"))
    if not tarball.is_file():
        raise SpecError(
            f"no model artifact at {model_data_url}",
            field="ModelDataUrl",
            hint="give a model.tar.gz path, an s3:// URI in the artifact store, "
            "or training-job:NAME",
        )
    with tarball.open("rb") as handle:  # streamed: model archives can be gigabytes
        digest = hashlib.file_digest(handle, "sha256").hexdigest()[:16]
    target = platform.settings.state_dir / "models" / digest
    if not target.is_dir():
        scratch = target.with_name(f".{digest}.partial")
        shutil.rmtree(scratch, ignore_errors=True)
        extract_model_tarball(tarball, scratch, field="ModelDataUrl")
        scratch.rename(target)
    return target


def deploy(platform: Platform, request: dict[str, Any]) -> dict[str, Any]:
    """Create the endpoint, or update it in place when it exists (a rolling update)."""
    name = str(request.get("EndpointName") or "")
    count = request.get("InstanceCount", 1)
    variant: dict[str, Any] = {
        "VariantName": request.get("VariantName") or DEFAULT_VARIANT,
        "ModelName": name,
        "InitialInstanceCount": count,
        "InitialVariantWeight": 1.0,
        "ContainerStartupHealthCheckTimeoutInSeconds": request.get(
            "ContainerStartupHealthCheckTimeoutInSeconds", 240
        ),
    }
    container: dict[str, Any] = {"Image": request.get("Image"), "Mode": "SingleModel"}
    if request.get("ModelDataUrl"):
        container["ModelDataUrl"] = request["ModelDataUrl"]
    if request.get("Environment"):
        container["Environment"] = request["Environment"]
    # the endpoint first: a bad name is the EndpointName the user typed
    endpoint = parse_endpoint({"EndpointName": name, "EndpointConfigName": name})
    model = parse_model({"ModelName": name, "PrimaryContainer": container})
    config = parse_endpoint_config({"EndpointConfigName": name, "ProductionVariants": [variant]})
    image = model.primary_container.image if model.primary_container else ""
    info = platform.engine.image(image)
    if info is None:
        raise SpecError(
            f"image {image} is not on this machine",
            field="Image",
            hint="build it with `dockyard build DIR -t NAME:TAG`",
        )
    # Replicas run the image the tag names now, pinned by id (as ECS pins digests at
    # deployment): a rebuilt tag then is a new revision and rolls the replicas, and
    # a tag moved later never changes what already runs.
    pinned = parse_model({"ModelName": name, "PrimaryContainer": {**container, "Image": info.id}})
    existing = platform.store.get(KIND, name)
    if existing and existing["EndpointStatus"] == EndpointStatus.DELETING:
        raise Conflict(
            f"endpoint {name} is being deleted", resource=f"endpoint/{name}", hint="retry shortly"
        )
    model_dirs = {}
    if model.primary_container and model.primary_container.model_data_url:
        model_dirs[name] = str(_model_dir(platform, model.primary_container.model_data_url))
    services = variant_services(endpoint, config, {name: pinned}, model_dirs)
    platform.lb.ensure_route(name)
    changed = _save_services(platform, services)
    now = time.time()
    doc = existing or {"EndpointName": name, "CreationTime": now}
    if changed or not existing:
        doc.update(
            EndpointStatus=EndpointStatus.UPDATING if existing else EndpointStatus.CREATING,
            StatusSince=now,
            FailureReason=None,
        )
    doc.update(
        EndpointConfigName=config.endpoint_config_name,
        LastModifiedTime=now,
        Model=model.to_aws(),
        ImageId=info.id,
        EndpointConfig=config.to_aws(),
        Services=[s.service_name for s in services],
        Variants=[
            {
                "VariantName": s.variant_name,
                "Service": s.service_name,
                "Desired": s.desired_count,
                "StartupTimeout": s.startup_timeout_s,
            }
            for s in services
        ],
    )
    platform.store.put(KIND, name, doc)
    platform.store.add_event(
        KIND, name, f"{'updated' if existing else 'created'} with image {image}, {count} replicas"
    )
    platform.wake.set()
    return describe(platform, name)


def _save_services(platform: Platform, services: tuple[VariantService, ...]) -> bool:
    """Save each variant's service; True when any of them has to roll or resize."""
    changed = False
    for service in services:
        before = platform.store.get(SERVICE_KIND, service.service_name)
        revision = save_service(
            platform.store,
            service.service_state(revision=""),
            service.task_definition,
            Placement(
                name_prefix=service.service_name,
                labels={
                    "dockyard.service": service.service_name,
                    "dockyard.endpoint": service.endpoint_name,
                },
            ),
            target=LbTarget(service.model_name, 8080),
            owner=f"{KIND}/{service.endpoint_name}",
        )
        changed = (
            changed
            or before is None
            or (
                before["state"]["revision"] != revision
                or before["state"]["desired_count"] != service.desired_count
            )
        )
    return changed


def update_status(platform: Platform, controller: ServiceController, name: str) -> float | None:
    """Move Creating/Updating on from what the variants' services report."""
    doc = platform.store.get(KIND, name)
    if doc is None or doc["EndpointStatus"] in SETTLED:
        return None
    if doc["EndpointStatus"] == EndpointStatus.DELETING:
        _finish_delete(platform, controller, doc)
        return None
    progress = []
    for variant in doc["Variants"]:
        service = platform.store.get(SERVICE_KIND, variant["Service"])
        revision = service["state"]["revision"] if service else None
        # replicas of the revision being deployed: an update is done when *they* serve
        records = [r for r in controller.records(variant["Service"]) if r.task.revision == revision]
        ready = sum(1 for r in records if r.extra.get("registered"))
        progress.append(
            VariantProgress(
                variant_name=variant["VariantName"],
                desired=variant["Desired"],
                ready=ready,
                ever_ready=ever_ready(ready, (r.extra.get("first_healthy_at") for r in records)),
                startup_timeout_s=variant["StartupTimeout"],
            )
        )
    update = endpoint_status(
        EndpointStatus(doc["EndpointStatus"]), progress, doc["StatusSince"], time.time()
    )
    if update.status != doc["EndpointStatus"]:
        doc.update(EndpointStatus=update.status, FailureReason=update.failure_reason)
        platform.store.put(KIND, name, doc)
        platform.store.add_event(KIND, name, f"endpoint is {update.status}")
        if update.status == EndpointStatus.FAILED:
            _scale_to_zero(platform, doc)
    return update.next_check_at


def _scale_to_zero(platform: Platform, doc: dict[str, Any]) -> None:
    for service_name in doc.get("Services", []):
        service = platform.store.get(SERVICE_KIND, service_name)
        if service is not None:
            service["state"]["desired_count"] = 0
            platform.store.put(SERVICE_KIND, service_name, service, owner=service.get("owner"))


def delete(platform: Platform, name: str) -> None:
    doc = platform.store.require(KIND, name)
    doc["EndpointStatus"] = EndpointStatus.DELETING
    platform.store.put(KIND, name, doc)
    _scale_to_zero(platform, doc)
    platform.store.add_event(KIND, name, "deleting")
    platform.wake.set()


def _finish_delete(platform: Platform, controller: ServiceController, doc: dict[str, Any]) -> None:
    if all(controller.delete(service) for service in doc.get("Services", [])):
        platform.lb.remove_route(doc["EndpointName"])
        platform.store.delete(KIND, doc["EndpointName"])
        platform.store.add_event(KIND, doc["EndpointName"], "deleted")


def replicas(platform: Platform, doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    registered = {t.name for t in platform.lb.targets(doc["EndpointName"])}
    for service_name in doc.get("Services", []):
        variant = service_name.removeprefix(doc["EndpointName"] + "-")
        for task_doc in platform.store.list("task", owner=f"service/{service_name}"):
            task = task_doc["task"]
            addresses = (task_doc.get("extra") or {}).get("addresses") or {}
            address = next((a.get("8080") for a in addresses.values()), None)
            healthy = task["task_id"] in registered
            rows.append(
                {
                    "TaskId": task["task_id"],
                    "Container": f"{service_name}-{task['task_id'][:8]}",
                    "Variant": variant,
                    "Status": task["last_status"],
                    "Health": "healthy"
                    if healthy
                    else (
                        "stopping"
                        if task["desired_status"] == "STOPPED"
                        else "starting"
                        if task["last_status"] != TaskStatus.STOPPED
                        else "stopped"
                    ),
                    "Address": address,
                    "StoppedReason": task.get("stopped_reason"),
                }
            )
    return rows


def describe(platform: Platform, name: str) -> dict[str, Any]:
    doc = platform.store.require(KIND, name)
    rows = replicas(platform, doc)
    desired = sum(v["InitialInstanceCount"] for v in doc["EndpointConfig"]["ProductionVariants"])
    return {
        "EndpointName": name,
        "EndpointConfigName": doc["EndpointConfigName"],
        "EndpointStatus": doc["EndpointStatus"],
        "FailureReason": doc.get("FailureReason"),
        "CreationTime": doc["CreationTime"],
        "LastModifiedTime": doc["LastModifiedTime"],
        "Image": doc["Model"]["PrimaryContainer"]["Image"],
        "ModelDataUrl": doc["Model"]["PrimaryContainer"].get("ModelDataUrl"),
        "Url": platform.lb.url_for(name),
        "DesiredReplicas": desired,
        "HealthyReplicas": sum(1 for r in rows if r["Health"] == "healthy"),
        "Replicas": rows,
        "ProductionVariants": doc["EndpointConfig"]["ProductionVariants"],
    }


def list_endpoints(platform: Platform) -> list[dict[str, Any]]:
    return [describe(platform, doc["EndpointName"]) for doc in platform.store.list(KIND)]
