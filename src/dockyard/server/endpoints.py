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
from dataclasses import dataclass, field, replace
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
from dockyard.control.pipeline import model_dir_key
from dockyard.control.variants import variant_routes
from dockyard.errors import Conflict, SpecError
from dockyard.package.dockerfile import LABEL_BIND_TO_PORT
from dockyard.ports.engine import ImageInfo
from dockyard.records.cluster import backend_of
from dockyard.records.endpoint import (
    EndpointRecord,
    EndpointRollback,
    ServiceRollback,
    VariantRecord,
    endpoint_owner,
)
from dockyard.records.hosting import EndpointConfigRecord, ModelRecord
from dockyard.records.placement import Placement
from dockyard.records.service import LbTarget
from dockyard.server.image_lookup import image_here
from dockyard.server.pipeline_image import ensure_router_image
from dockyard.server.platform import Platform
from dockyard.server.registry import transfer
from dockyard.server.services import replica_health, save_service
from dockyard.server.usage import route_series
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
    if not request.get("Image") and not request.get("Containers"):
        raise SpecError(
            "no image to serve",
            field="Image",
            hint="give Image (one container), or Containers (2-15: a pipeline or Direct mode)",
        )
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
    model_doc: dict[str, Any] = {"ModelName": name, "PrimaryContainer": container}
    if request.get("Containers"):  # a serial pipeline or Direct containers
        model_doc = {"ModelName": name, "Containers": _containers(platform, request)}
        if request.get("InferenceExecutionConfig"):
            model_doc["InferenceExecutionConfig"] = request["InferenceExecutionConfig"]
    with _named_as_requested():
        model = parse_model(model_doc)
        config = parse_endpoint_config(
            {"EndpointConfigName": name, "ProductionVariants": [variant]}
        )
    with _named_as_requested():
        deployed = deploy_resources(platform, endpoint, config, {name: model}, count_note=count)
    keep_as_hosting_resources(platform, name, model, config)
    return deployed


def keep_as_hosting_resources(
    platform: Platform, name: str, model: Model, config: EndpointConfig
) -> None:
    """Store the model and the config a deploy built from one request, as CreateModel
    and CreateEndpointConfig would have, so that DescribeEndpointConfig and DescribeModel
    answer for the names DescribeEndpoint shows. Records of those names that something
    else made (CreateModel, say) are the user's and stay as they are."""
    made_for = f"{KIND}/{name}"
    now = platform.clock()
    store = platform.store
    with store.transaction():
        stored_model = store.models.get(model.model_name)
        if stored_model is None or (
            stored_model.made_for == made_for and stored_model.model != model
        ):
            store.models.put(ModelRecord(model, now, made_for=made_for))
        stored_config = store.endpoint_configs.get(config.endpoint_config_name)
        if stored_config is None or (
            stored_config.made_for == made_for and stored_config.config != config
        ):
            store.endpoint_configs.put(EndpointConfigRecord(config, now, made_for=made_for))


def _containers(platform: Platform, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's Containers, each artifact resolved like ModelDataUrl."""
    found = []
    for index, item in enumerate(request["Containers"]):
        container = {k: v for k, v in dict(item).items() if v not in (None, {}, "")}
        if container.get("ModelDataUrl"):
            where = f"Containers[{index}].ModelDataUrl"
            container["ModelDataUrl"] = platform.inputs.model_archive(
                str(container["ModelDataUrl"]), where
            ).uri
        found.append(container)
    return found


def _pin_image(platform: Platform, model: Model, field: str) -> tuple[Model, str]:
    """The model with its image tag replaced by the image's id, and that id (on swarm,
    by its name and digest in Dockyard's registry: see :func:`pinned_image`).

    Replicas run the image the tag names now, pinned by id (as ECS pins digests at
    deployment): a rebuilt tag then is a new revision and rolls the replicas, and a
    tag moved later never changes what already runs.
    """
    container = model.primary_container
    if container is None:
        raise SpecError("the model has no PrimaryContainer", field=field)
    image, info = image_here(platform, container.image, field)
    if is_multi_model(model) and info.labels.get(MULTI_MODELS_LABEL) != "true":
        raise SpecError(
            f"image {image} does not declare that it serves multiple models",
            field=field,
            hint=f"use an image labelled {MULTI_MODELS_LABEL}=true (Dockyard's framework "
            "images and images built on them are), or Mode SingleModel",
        )
    ref = pinned_image(platform, image, info, field)
    pinned = model.model_copy(
        update={"primary_container": container.model_copy(update={"image": ref})}
    )
    return pinned, ref


def _router_image(platform: Platform) -> str:
    """The multi-container router's image, by registry name where nodes pull images."""
    ref = ensure_router_image(platform.engine, platform.settings)
    if not platform.engine.nodes_pull_images:
        return ref
    return transfer.node_reference(platform, ref, "Containers", made_here=True)


def pinned_image(platform: Platform, image: str, info: ImageInfo, field: str) -> str:
    """What replicas run: the image's id on one engine; on an engine whose nodes pull
    images themselves (swarm), its name and digest in Dockyard's registry, which pins
    it as firmly and which every node can pull."""
    if not platform.engine.nodes_pull_images:
        return info.id
    return transfer.node_reference(platform, image, field)


def _pin_containers(
    platform: Platform, model: Model, archives: dict[str, Path]
) -> tuple[Model, list[str]]:
    """A multi-container model with every image pinned by id, each checked for the
    contract's label (it listens on SAGEMAKER_BIND_TO_PORT); each container's artifact
    resolved into ``archives``."""
    containers = []
    for index, container in enumerate(model.containers):
        where = f"Containers[{index}]"
        image, info = image_here(platform, container.image, f"{where}.Image")
        if info.labels.get(LABEL_BIND_TO_PORT) != "true":
            raise SpecError(
                f"image {container.image} does not say it listens on SAGEMAKER_BIND_TO_PORT",
                field=f"{where}.Image",
                hint=f"have the server listen on $SAGEMAKER_BIND_TO_PORT and add LABEL "
                f'{LABEL_BIND_TO_PORT}="true" to its Dockerfile (Dockyard\'s framework images '
                "do both)",
            )
        if container.model_data_url:
            archives[model_dir_key(model.model_name, index)] = platform.inputs.model_archive(
                container.model_data_url, f"{where}.ModelDataUrl"
            ).path
        ref = pinned_image(platform, image, info, f"{where}.Image")
        containers.append(container.model_copy(update={"image": ref}))
    pinned = model.model_copy(update={"containers": tuple(containers)})
    return pinned, [c.image for c in containers]


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


@dataclass
class _StagedModels:
    """What deploying needs of each model, resolved before anything is written."""

    pinned: dict[str, Model] = field(default_factory=dict)  # images pinned by id
    image_ids: list[str] = field(default_factory=list)
    archives: dict[str, Path] = field(default_factory=dict)  # model.tar.gz to extract
    prefixes: dict[str, str] = field(default_factory=dict)  # multi-model: mounted as is
    code_archives: dict[str, Path] = field(default_factory=dict)  # the SDK's sourcedir.tar.gz
    router_image: str | None = None  # multi-container models: the pipeline router


def _stage_models(platform: Platform, used: list[Model]) -> _StagedModels:
    """Each model's artifacts resolved and its images pinned (the router image built
    when a model has several containers)."""
    staged = _StagedModels()
    for model in used:
        container = model.primary_container
        if container is None:  # several containers: each pinned, the router added
            staged.pinned[model.model_name], ids = _pin_containers(platform, model, staged.archives)
            staged.image_ids.extend(ids)
            staged.router_image = staged.router_image or _router_image(platform)
            continue
        if container.model_data_url and is_multi_model(model):
            staged.prefixes[model.model_name] = str(
                platform.inputs.directory(
                    container.model_data_url, "PrimaryContainer.ModelDataUrl"
                ).path
            )
        elif container.model_data_url:
            staged.archives[model.model_name] = platform.inputs.model_archive(
                container.model_data_url, "PrimaryContainer.ModelDataUrl"
            ).path
        code = container.environment.get(SUBMIT_ENV, "")
        if "://" in code and model.model_name in staged.archives:
            staged.code_archives[model.model_name] = platform.inputs.model_archive(
                code, f"PrimaryContainer.Environment.{SUBMIT_ENV}"
            ).path
        staged.pinned[model.model_name], image_id = _pin_image(
            platform, model, "PrimaryContainer.Image"
        )
        if model.model_name in staged.code_archives:
            staged.pinned[model.model_name] = _code_in_model_dir(staged.pinned[model.model_name])
        staged.image_ids.append(image_id)
    return staged


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
    staged = _stage_models(platform, used)
    pinned, image_ids, router_image = staged.pinned, staged.image_ids, staged.router_image
    existing = platform.store.endpoints.get(name)
    if existing is not None and existing.status is EndpointStatus.DELETING:
        raise Conflict(
            f"endpoint {name} is being deleted", resource=f"endpoint/{name}", hint="retry shortly"
        )
    held = (
        {v.variant_name: existing.route_of(v) for v in (*existing.retired, *existing.variants)}
        if existing is not None
        else {}
    )
    routes = variant_routes(name, [v.variant_name for v in config.production_variants], held)
    model_dirs = {
        **model_dirs_of(platform, staged.archives, staged.code_archives),
        **staged.prefixes,
    }
    services = variant_services(endpoint, config, pinned, model_dirs, routes, router_image)
    first = used[0]
    if existing is not None and is_multi_model(existing.model) != is_multi_model(first):
        raise Conflict(
            f"endpoint {name} serves "
            + ("many models" if is_multi_model(existing.model) else "one model")
            + "; an update cannot change that",
            resource=f"endpoint/{name}",
            hint="delete the endpoint and deploy it again, or deploy under another name",
        )
    hashed = {service.target_group: service.multi_model for service in services}
    platform.lb.ensure_route(name, affinity=hashed.get(name, False))
    for service in services:
        platform.lb.ensure_route(service.target_group, affinity=service.multi_model)
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
                VariantRecord(
                    s.variant_name,
                    s.service_name,
                    s.desired_count,
                    s.startup_timeout_s,
                    weight=s.weight,
                    route=s.target_group,
                )
                for s in services
            ),
            retired=_retired(existing, config),
            status=status.status,
            status_since=status.since,
            failure_reason=status.failure_reason,
            created_at=existing.created_at if existing else now,
            last_modified_at=now,
            rollback=rollback if status.status is EndpointStatus.UPDATING else None,
        )
        platform.store.endpoints.put(record)
    verb = "updated" if existing else "created"
    images = ", ".join(c.image for m in used for c in m.all_containers)
    count = count_note if count_note is not None else record.desired_replicas
    platform.store.add_event(KIND, name, f"{verb} with image {images}, {count} replicas")
    for service in services:
        platform.wake("service", service.service_name)
    platform.wake(KIND, name)
    return describe(platform, name)


def _retired(existing: EndpointRecord | None, config: EndpointConfig) -> tuple[VariantRecord, ...]:
    """Variants that serve now but not in ``config``: they serve until the update is over."""
    if existing is None:
        return ()
    kept = {v.variant_name for v in config.production_variants}
    return tuple(v for v in (*existing.retired, *existing.variants) if v.variant_name not in kept)


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
        target=LbTarget(service.target_container, 8080),
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
    targets = {t.name: t for route in record.routes for t in platform.lb.targets(route)}
    rows = []
    for variant in (*record.variants, *record.retired):
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
    return describe_record(platform, platform.store.endpoints.require(name))


def describe_record(platform: Platform, record: EndpointRecord) -> dict[str, Any]:
    """The description of a record already read, so that a listing never looks a name
    up twice: an endpoint whose deletion finishes between the two reads would turn the
    whole listing into a 404."""
    rows = replicas(platform, record)
    traffic = variant_traffic(platform, record)
    container = record.model.primary_container
    config = record.config.to_aws()
    described: dict[str, Any] = {
        "EndpointName": record.name,
        "EndpointConfigName": record.config.endpoint_config_name,
        "EndpointStatus": record.status,
        "FailureReason": record.failure_reason,
        "CreationTime": record.created_at,
        "LastModifiedTime": record.last_modified_at,
        "Image": container.image if container else None,
        "Mode": container.mode if container else None,
        "ModelDataUrl": container.model_data_url if container else None,
        "Url": platform.lb.url_for(record.name),
        "DesiredReplicas": record.desired_replicas,
        "HealthyReplicas": sum(1 for r in rows if r["Health"] == "healthy"),
        "Replicas": rows,
        "ProductionVariants": [
            _variant_summary(v, record, rows, traffic) for v in config["ProductionVariants"]
        ],
        "Backend": backend_of(record),
    }
    if record.cluster is not None:  # the cluster's replicas, as it last reported them
        described["HealthyReplicas"] = record.cluster.running
        described["PendingReplicas"] = record.cluster.pending
    return described


def _variant_summary(
    variant: dict[str, Any],
    record: EndpointRecord,
    rows: list[dict[str, Any]],
    traffic: Mapping[str, dict[str, Any]],
) -> dict[str, Any]:
    """The configured variant, with its desired and healthy replica counts and weights
    now (as SageMaker's ProductionVariantSummary: DesiredInstanceCount,
    CurrentInstanceCount, CurrentWeight, DesiredWeight), and its traffic
    (:func:`variant_traffic`)."""
    name = variant["VariantName"]
    ours = next((v for v in record.variants if v.variant_name == name), None)
    current = sum(1 for r in rows if r["Variant"] == name and r["Health"] == "healthy")
    return {
        **variant,
        "DesiredInstanceCount": ours.desired if ours else None,
        "CurrentInstanceCount": current,
        "CurrentWeight": ours.weight if ours else None,
        "DesiredWeight": ours.weight if ours else None,
        **(traffic.get(record.route_of(ours), {}) if ours else {}),
    }


def variant_traffic(platform: Platform, record: EndpointRecord) -> dict[str, dict[str, Any]]:
    """Per variant route: ``Invocations`` (requests the balancer answered since it
    started, from its counters), ``Invocations4xx``/``Invocations5xx``, and the latest
    ``LatencyP50Ms``/``LatencyP99Ms`` the usage collector read from the request log."""
    routes = {record.route_of(v) for v in record.variants}
    found: dict[str, dict[str, Any]] = {}
    for counters in platform.lb.traffic():
        if counters.route in routes:
            found[counters.route] = {
                "Invocations": counters.requests,
                "Invocations4xx": counters.responses_4xx,
                "Invocations5xx": counters.responses_5xx,
            }
    for route in routes:
        latest = {p.name: p.value for p in platform.store.metrics.latest(route_series(route))}
        entry = found.setdefault(route, {"Invocations": 0})
        for metric, member in (("p50_ms", "LatencyP50Ms"), ("p99_ms", "LatencyP99Ms")):
            if metric in latest:
                entry[member] = latest[metric]
    return found


def list_endpoints(platform: Platform) -> list[dict[str, Any]]:
    return [describe_record(platform, record) for record in platform.store.endpoints.list()]
