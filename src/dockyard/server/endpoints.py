"""Real-time endpoints, the API side: SageMaker's Model → EndpointConfig → Endpoint.

``deploy`` is the SDK's ``model.deploy()`` in one call: it validates the three
SageMaker resources, extracts the model artifact once (content-addressed, shared by
every replica and re-deploy), saves one service per production variant and the
endpoint record, and wakes the control loop. Everything after that — replicas,
health, status — is the reconcilers' (:mod:`.endpoint_reconciler`, :mod:`.services`).

A multi-model endpoint (``Mode`` MultiModel) names a prefix as its ``ModelDataUrl``: a
folder, or an ``s3://`` prefix in the artifact store, resolved to its folder. Nothing is
extracted at deploy: the folder is mounted read-only into every replica, whose model
server fetches and loads each archive the first time a request names it (see
:mod:`dockyard.runtime.serve.multi_model` for why the loading lives there). Archives
added to the prefix later are served without a redeploy, as on SageMaker. Its image
must carry the ``com.amazonaws.sagemaker.capabilities.multi-models=true`` label.

The slow parts (hashing and extracting an archive, asking the engine about the image)
run before anything is written and under no lock, so deploys of different endpoints
proceed side by side; the writes themselves are one short transaction each.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from dockyard.adapters.artifacts.tarball import extract_model_tarball
from dockyard.control.endpoint import (
    MULTI_MODEL,
    DeployStatus,
    EndpointStatus,
    VariantService,
    is_multi_model,
    replica_label,
    status_after_deploy,
    variant_services,
)
from dockyard.errors import Conflict, SpecError
from dockyard.records.cluster import backend_of
from dockyard.records.endpoint import (
    EndpointRecord,
    EndpointRollback,
    ServiceRollback,
    VariantRecord,
    endpoint_owner,
)
from dockyard.records.placement import Placement
from dockyard.records.service import LbTarget
from dockyard.server.platform import Platform
from dockyard.server.registry import transfer
from dockyard.server.services import replica_health, save_service
from dockyard.spec.endpoint import (
    Endpoint,
    EndpointConfig,
    Model,
    parse_endpoint,
    parse_endpoint_config,
    parse_model,
)

KIND = EndpointRecord.KIND
MULTI_MODELS_LABEL = "com.amazonaws.sagemaker.capabilities.multi-models"
DEFAULT_VARIANT = "AllTraffic"
SUBMIT_ENV = "SAGEMAKER_SUBMIT_DIRECTORY"
MODEL_DIR = "/opt/ml/model"  # where a replica sees its model directory


#: where a field of the Model / EndpointConfig that ``deploy`` builds came from
_REQUEST_FIELDS = (
    ("PrimaryContainer.", ""),
    ("ProductionVariants[0].InitialInstanceCount", "InstanceCount"),
    ("ProductionVariants[0].", ""),
)


@contextmanager
def _named_as_requested() -> Iterator[None]:
    """Errors about the SageMaker resources ``deploy`` builds name the request's fields
    (``Image``, ``InstanceCount``), the ones the user sent."""
    try:
        yield
    except SpecError as error:
        for prefix, replacement in _REQUEST_FIELDS:
            if error.field and error.field.startswith(prefix):
                error.field = replacement + error.field[len(prefix) :]
                break
        raise


def _model_dir(platform: Platform, tarball: Path, code: Path | None = None) -> Path:
    """Extract a model artifact once per content (and its submitted code into
    ``code/``); replicas mount the result read-only."""
    digests = []
    for archive in (tarball, code) if code is not None else (tarball,):
        with archive.open("rb") as handle:  # streamed: model archives can be gigabytes
            digests.append(hashlib.file_digest(handle, "sha256").hexdigest())
    digest = (
        hashlib.sha256("/".join(digests).encode()).hexdigest()[:16] if code else digests[0][:16]
    )
    target = platform.models_dir / digest
    if not target.is_dir():
        scratch = target.with_name(f".{digest}.partial-{time.monotonic_ns()}")
        extract_model_tarball(tarball, scratch, field="ModelDataUrl")
        if code is not None:
            shutil.rmtree(scratch / "code", ignore_errors=True)
            extract_model_tarball(code, scratch / "code", field=f"Environment.{SUBMIT_ENV}")
        try:
            scratch.rename(target)
        except OSError:  # a deploy side by side extracted the same archive first
            shutil.rmtree(scratch, ignore_errors=True)
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
    # the endpoint first: a bad name is the EndpointName the user typed
    endpoint = parse_endpoint({"EndpointName": name, "EndpointConfigName": name})
    mode = request.get("Mode") or "SingleModel"
    archive = None
    if request.get("ModelDataUrl"):
        resolve = (
            platform.inputs.directory if mode == MULTI_MODEL else platform.inputs.model_archive
        )
        archive = resolve(str(request["ModelDataUrl"]), "ModelDataUrl")
    container: dict[str, Any] = {"Image": request.get("Image"), "Mode": mode}
    if archive is not None:
        container["ModelDataUrl"] = archive.uri
    if request.get("Environment"):
        container["Environment"] = request["Environment"]
    with _named_as_requested():
        model = parse_model({"ModelName": name, "PrimaryContainer": container})
        config = parse_endpoint_config(
            {"EndpointConfigName": name, "ProductionVariants": [variant]}
        )
    with _named_as_requested():
        return deploy_resources(platform, endpoint, config, {name: model}, count_note=count)


def _pin_image(platform: Platform, model: Model, field: str) -> tuple[Model, str]:
    """The model with its image tag replaced by the image's id, and that id.

    Replicas run the image the tag names now, pinned by id (as ECS pins digests at
    deployment): a rebuilt tag then is a new revision and rolls the replicas, and a
    tag moved later never changes what already runs.
    """
    container = model.primary_container
    image = container.image if container else ""
    info = platform.engine.image(image)
    if info is None and transfer.ensure_local(platform, image):  # from Dockyard's registry
        info = platform.engine.image(image)
    if info is None or container is None:
        raise SpecError(
            f"image {image} is not on this machine",
            field=field,
            hint="build it with `dockyard build DIR -t NAME:TAG`, or name an image in "
            "Dockyard's registry (`dockyard images REPOSITORY` shows their URIs)",
        )
    if is_multi_model(model) and info.labels.get(MULTI_MODELS_LABEL) != "true":
        raise SpecError(
            f"image {image} does not declare that it serves multiple models",
            field=field,
            hint=f"use an image labelled {MULTI_MODELS_LABEL}=true (Dockyard's framework "
            "images and images built on them are), or Mode SingleModel",
        )
    pinned = model.model_copy(
        update={"primary_container": container.model_copy(update={"image": info.id})}
    )
    return pinned, info.id


def model_dirs_of(
    platform: Platform,
    archives: Mapping[str, Path],
    code_archives: Mapping[str, Path] | None = None,
) -> dict[str, str]:
    """Each model's artifact extracted (once per content): model name -> directory; a
    model with a submitted code archive gets it unpacked in the directory's ``code/``."""
    code_archives = code_archives or {}
    return {
        name: str(_model_dir(platform, path, code_archives.get(name)))
        for name, path in archives.items()
    }


def _code_in_model_dir(model: Model) -> Model:
    """The model with SAGEMAKER_SUBMIT_DIRECTORY pointing at the code unpacked into its
    model directory: the SageMaker SDK names the ``sourcedir.tar.gz`` it uploaded (an
    ``s3://`` URI the container would download on AWS); Dockyard unpacks it into
    ``/opt/ml/model/code`` beside the model, as the SDK's repacking does."""
    container = model.primary_container
    assert container is not None
    environment = {**container.environment, SUBMIT_ENV: f"{MODEL_DIR}/code"}
    updated = container.model_copy(update={"environment": environment})
    return model.model_copy(update={"primary_container": updated})


def deploy_resources(
    platform: Platform,
    endpoint: Endpoint,
    config: EndpointConfig,
    models: Mapping[str, Model],
    *,
    count_note: object = None,
) -> dict[str, Any]:
    """Run ``endpoint`` with ``config`` and the ``models`` its variants name: create it,
    or update it in place when it exists (a rolling update).

    This is CreateEndpoint / UpdateEndpoint once the three resources are validated;
    :func:`deploy` builds them from one request. Each model's artifact is resolved and
    extracted and its image pinned before anything is written.
    """
    name = endpoint.endpoint_name
    # each model the variants name once, in variant order
    used = list(
        {
            v.model_name: models[v.model_name]
            for v in config.production_variants
            if v.model_name in models
        }.values()
    )
    pinned: dict[str, Model] = {}
    image_ids: list[str] = []
    archives: dict[str, Path] = {}
    prefixes: dict[str, str] = {}  # multi-model: the prefix's folder, mounted as it is
    code_archives: dict[str, Path] = {}  # the SDK's sourcedir.tar.gz at s3:// or file://
    for model in used:
        container = model.primary_container
        if container is None:  # a pipeline: variant_services names the problem
            pinned[model.model_name] = model
            continue
        if container.model_data_url and is_multi_model(model):
            prefixes[model.model_name] = str(
                platform.inputs.directory(
                    container.model_data_url, "PrimaryContainer.ModelDataUrl"
                ).path
            )
        elif container.model_data_url:
            archives[model.model_name] = platform.inputs.model_archive(
                container.model_data_url, "PrimaryContainer.ModelDataUrl"
            ).path
        code = container.environment.get(SUBMIT_ENV, "")
        if "://" in code and model.model_name in archives:
            code_archives[model.model_name] = platform.inputs.model_archive(
                code, f"PrimaryContainer.Environment.{SUBMIT_ENV}"
            ).path
        pinned[model.model_name], image_id = _pin_image(platform, model, "PrimaryContainer.Image")
        if model.model_name in code_archives:
            pinned[model.model_name] = _code_in_model_dir(pinned[model.model_name])
        image_ids.append(image_id)
    existing = platform.store.endpoints.get(name)
    if existing is not None and existing.status is EndpointStatus.DELETING:
        raise Conflict(
            f"endpoint {name} is being deleted", resource=f"endpoint/{name}", hint="retry shortly"
        )
    model_dirs = {**model_dirs_of(platform, archives, code_archives), **prefixes}
    services = variant_services(endpoint, config, pinned, model_dirs)
    first = used[0]
    if existing is not None and is_multi_model(existing.model) != is_multi_model(first):
        raise Conflict(
            f"endpoint {name} serves "
            + ("many models" if is_multi_model(existing.model) else "one model")
            + "; an update cannot change that",
            resource=f"endpoint/{name}",
            hint="delete the endpoint and deploy it again, or deploy under another name",
        )
    platform.lb.ensure_route(name, affinity=any(s.multi_model for s in services))
    rollback = _rollback_point(platform, existing)
    changed = [_save_variant(platform, service) for service in services]
    now = platform.clock()
    with platform.store.transaction():
        existing = platform.store.endpoints.get(name)
        before = (
            DeployStatus(existing.status, existing.status_since, existing.failure_reason)
            if existing is not None
            else None
        )
        status = status_after_deploy(before, changed=any(changed), now=now)
        record = EndpointRecord(
            name=name,
            config=config,
            model=first,
            image_id=image_ids[0],
            variants=tuple(
                VariantRecord(s.variant_name, s.service_name, s.desired_count, s.startup_timeout_s)
                for s in services
            ),
            status=status.status,
            status_since=status.since,
            failure_reason=status.failure_reason,
            created_at=existing.created_at if existing else now,
            last_modified_at=now,
            rollback=rollback if status.status is EndpointStatus.UPDATING else None,
        )
        platform.store.endpoints.put(record)
    verb = "updated" if existing else "created"
    images = ", ".join(m.primary_container.image for m in used if m.primary_container)
    count = count_note if count_note is not None else record.desired_replicas
    platform.store.add_event(KIND, name, f"{verb} with image {images}, {count} replicas")
    for service in services:
        platform.wake("service", service.service_name)
    platform.wake(KIND, name)
    return describe(platform, name)


def _rollback_point(platform: Platform, existing: EndpointRecord | None) -> EndpointRollback | None:
    """What to go back to if this deploy's update fails: the configuration serving now
    (or, during an update, the one that served before it)."""
    if existing is None:
        return None
    if existing.status is not EndpointStatus.IN_SERVICE:
        return existing.rollback
    services = []
    for name in existing.service_names:
        service = platform.store.services.get(name)
        if service is not None:
            state = service.state
            services.append(ServiceRollback(name, state.revision, state.desired_count))
    return EndpointRollback(
        existing.config, existing.model, existing.image_id, existing.variants, tuple(services)
    )


def _save_variant(platform: Platform, service: VariantService) -> bool:
    """Save a variant's service; True when it has to roll or resize."""
    return save_service(
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
        owner=endpoint_owner(service.endpoint_name),
    )


def delete(platform: Platform, name: str) -> None:
    """Mark the endpoint Deleting; its reconciler scales it to zero and removes it."""
    with platform.store.transaction():
        record = platform.store.endpoints.require(name)
        platform.store.endpoints.put(
            replace(record, status=EndpointStatus.DELETING, status_since=platform.clock())
        )
    platform.store.add_event(KIND, name, "deleting")
    platform.wake(KIND, name)


def replicas(platform: Platform, record: EndpointRecord) -> list[dict[str, Any]]:
    targets = {t.name: t for t in platform.lb.targets(record.name)}
    rows = []
    for variant in record.variants:
        for task in platform.store.tasks.list(f"service/{variant.service_name}"):
            health = replica_health(task.replica, targets.get(task.task.task_id))
            rows.append(
                {
                    "TaskId": task.task.task_id,
                    "Container": f"{variant.service_name}-{task.task.task_id[:8]}",
                    "Variant": variant.variant_name,
                    "Status": task.task.last_status,
                    "Health": replica_label(task.task, health),
                    "Address": next((a.address for a in task.addresses if a.port == 8080), None),
                    "Image": task.definition.container_definitions[0].image,
                    "StoppedReason": task.task.stopped_reason,
                }
            )
    return rows


def describe(platform: Platform, name: str) -> dict[str, Any]:
    record = platform.store.endpoints.require(name)
    rows = replicas(platform, record)
    container = record.model.primary_container
    config = record.config.to_aws()
    described: dict[str, Any] = {
        "EndpointName": name,
        "EndpointConfigName": record.config.endpoint_config_name,
        "EndpointStatus": record.status,
        "FailureReason": record.failure_reason,
        "CreationTime": record.created_at,
        "LastModifiedTime": record.last_modified_at,
        "Image": container.image if container else None,
        "Mode": container.mode if container else None,
        "ModelDataUrl": container.model_data_url if container else None,
        "Url": platform.lb.url_for(name),
        "DesiredReplicas": record.desired_replicas,
        "HealthyReplicas": sum(1 for r in rows if r["Health"] == "healthy"),
        "Replicas": rows,
        "ProductionVariants": [
            _variant_summary(v, record, rows) for v in config["ProductionVariants"]
        ],
        "Backend": backend_of(record),
    }
    if record.cluster is not None:  # the cluster's replicas, as it last reported them
        described["HealthyReplicas"] = record.cluster.running
        described["PendingReplicas"] = record.cluster.pending
    return described


def _variant_summary(
    variant: dict[str, Any], record: EndpointRecord, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """The configured variant, with its desired and healthy replica counts now (as
    SageMaker's ProductionVariantSummary: DesiredInstanceCount, CurrentInstanceCount)."""
    name = variant["VariantName"]
    desired = next((v.desired for v in record.variants if v.variant_name == name), None)
    current = sum(1 for r in rows if r["Variant"] == name and r["Health"] == "healthy")
    return {**variant, "DesiredInstanceCount": desired, "CurrentInstanceCount": current}


def list_endpoints(platform: Platform) -> list[dict[str, Any]]:
    return [describe(platform, record.name) for record in platform.store.endpoints.list()]
