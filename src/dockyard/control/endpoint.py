"""A SageMaker endpoint is services underneath: one per production variant (pure).

:func:`variant_services` turns Endpoint + EndpointConfig + Models into one
:class:`VariantService` per variant: a task definition (the model image started with
``serve``, port 8080, the extracted model mounted read-only at ``/opt/ml/model``,
SIGKILL 30 s after SIGTERM) and the service that keeps ``InitialInstanceCount``
replicas of it behind the endpoint's route, each replica getting traffic only once it
answers ``GET /ping``. Replacing failed replicas, rolling updates and draining are the
service scheduler's (:mod:`dockyard.control.service`), not repeated here.

A model whose container has ``Mode`` MultiModel is a multi-model endpoint: its
``ModelDataUrl`` is a prefix (a folder of ``.tar.gz`` archives), mounted read-only at
:data:`MODEL_PREFIX_DIR` in every replica, which is started with
``SAGEMAKER_MULTI_MODEL=true`` and loads the archive a request's target model names on
first use (``dockyard.runtime.serve.multi_model``); its route hashes on the target model
so each model's requests go to the replicas that hold it.

:func:`endpoint_status` derives the EndpointStatus: Creating (or Updating) until every
variant has had its InitialInstanceCount replicas ready at once, then InService;
Failed when a variant has had no replica pass its ping check within its
ContainerStartupHealthCheckTimeoutInSeconds. :func:`plan_endpoint` adds what the
server does about a status: scale the variants to 0 when Failed or Deleting, and
finish a delete once no replica is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from dockyard.control.pipeline import pipeline_task_definition
from dockyard.control.readiness import ReplicaHealth
from dockyard.control.service import ServiceState
from dockyard.control.task import HealthStatus, Task, TaskStatus
from dockyard.errors import SpecError
from dockyard.spec.endpoint import (
    ROUTER_CONTAINER,
    Endpoint,
    EndpointConfig,
    Model,
    ProductionVariant,
)
from dockyard.spec.task_definition import TaskDefinition, parse_task_definition

MODEL_PORT = 8080
MODEL_DIR = "/opt/ml/model"
MODEL_VOLUME = "model"
#: where a multi-model endpoint's prefix is mounted, read-only, in each replica
MODEL_PREFIX_DIR = "/opt/ml/model-prefix"
MULTI_MODEL = "MultiModel"
SERVE_STOP_TIMEOUT_S = 30  # "On scale-in or update: SIGTERM, then SIGKILL after 30 s"


class EndpointStatus(StrEnum):
    """botocore ``EndpointStatus``."""

    OUT_OF_SERVICE = "OutOfService"
    CREATING = "Creating"
    UPDATING = "Updating"
    SYSTEM_UPDATING = "SystemUpdating"
    ROLLING_BACK = "RollingBack"
    IN_SERVICE = "InService"
    DELETING = "Deleting"
    FAILED = "Failed"
    UPDATE_ROLLBACK_FAILED = "UpdateRollbackFailed"


#: the statuses in which an endpoint waits for its variants' replicas
CONVERGING = frozenset(
    {EndpointStatus.CREATING, EndpointStatus.UPDATING, EndpointStatus.ROLLING_BACK}
)


@dataclass(frozen=True)
class VariantService:
    """One production variant as the service that runs it."""

    endpoint_name: str
    variant_name: str
    model_name: str
    service_name: str  # "<endpoint>-<variant>"
    task_definition: TaskDefinition  # family = service_name; register it to get a revision
    desired_count: int
    weight: float
    startup_timeout_s: float
    multi_model: bool = False  # Mode MultiModel: the route hashes on the target model
    route: str = ""  # its load-balancer route (see :mod:`dockyard.control.variants`)
    entry_container: str = ""  # the container the balancer targets ("": the model's own)

    @property
    def target_container(self) -> str:
        return self.entry_container or self.model_name

    @property
    def target_group(self) -> str:
        """The variant's own route; the endpoint's route is split over them."""
        return self.route or self.endpoint_name

    def service_state(self, revision: str, *, steady: bool = False) -> ServiceState:
        """The scheduler's view, once ``task_definition`` is registered as ``revision``.

        Ping failures are ignored during the startup window (the grace period), and a
        replica that has not passed /ping by its end is replaced.
        """
        return ServiceState(
            name=self.service_name,
            revision=revision,
            desired_count=self.desired_count,
            health_check_grace_period_s=float(self.startup_timeout_s),
            startup_timeout_s=float(self.startup_timeout_s),
            target_group=self.target_group,
            steady=steady,
        )


def variant_service_name(endpoint_name: str, variant_name: str) -> str:
    return f"{endpoint_name}-{variant_name}"


def variant_services(
    endpoint: Endpoint,
    config: EndpointConfig,
    models: Mapping[str, Model],
    model_dirs: Mapping[str, str],
    routes: Mapping[str, str] | None = None,
    router_image: str | None = None,
) -> tuple[VariantService, ...]:
    """The services that run ``endpoint`` with ``config``.

    ``routes`` maps VariantName to its route (default: the endpoint's own).

    ``models`` maps ModelName to its Model; ``model_dirs`` maps ModelName to the host
    directory where the server extracted its ModelDataUrl (needed for every model that
    has one). Raises SpecError when a variant names a model that does not exist or
    uses a feature not supported yet.
    """
    if endpoint.endpoint_config_name != config.endpoint_config_name:
        raise ValueError(
            f"endpoint {endpoint.endpoint_name} uses config {endpoint.endpoint_config_name}, "
            f"not {config.endpoint_config_name}"
        )
    return tuple(
        replace(
            _variant_service(endpoint, index, variant, models, model_dirs, router_image),
            route=(routes or {}).get(variant.variant_name, endpoint.endpoint_name),
        )
        for index, variant in enumerate(config.production_variants)
    )


def _variant_service(
    endpoint: Endpoint,
    index: int,
    variant: ProductionVariant,
    models: Mapping[str, Model],
    model_dirs: Mapping[str, str],
    router_image: str | None,
) -> VariantService:
    field = f"ProductionVariants[{index}].ModelName"
    model = models.get(variant.model_name)
    if model is None:
        raise SpecError(
            f'Could not find model "{variant.model_name}".',
            field=field,
            hint="create the model first (CreateModel), or fix the ModelName",
        )
    if model.primary_container is None:
        definition = pipeline_task_definition(
            variant_service_name(endpoint.endpoint_name, variant.variant_name),
            model,
            model_dirs,
            router_image,
            field=field,
        )
        return VariantService(
            endpoint_name=endpoint.endpoint_name,
            variant_name=variant.variant_name,
            model_name=model.model_name,
            service_name=definition.family,
            task_definition=definition,
            desired_count=variant.initial_instance_count,
            weight=variant.initial_variant_weight,
            startup_timeout_s=float(variant.startup_timeout_s),
            entry_container=ROUTER_CONTAINER,
        )
    multi_model = model.primary_container.mode == MULTI_MODEL
    if multi_model and model.primary_container.model_data_url is None:
        raise SpecError(
            f"model {model.model_name} is a multi-model container without ModelDataUrl",
            field="PrimaryContainer.ModelDataUrl",
            hint="give the prefix (folder) that holds the models' .tar.gz archives",
        )
    service_name = variant_service_name(endpoint.endpoint_name, variant.variant_name)
    return VariantService(
        endpoint_name=endpoint.endpoint_name,
        variant_name=variant.variant_name,
        model_name=model.model_name,
        service_name=service_name,
        task_definition=_task_definition(service_name, model, model_dirs),
        desired_count=variant.initial_instance_count,
        weight=variant.initial_variant_weight,
        startup_timeout_s=float(variant.startup_timeout_s),
        multi_model=multi_model,
    )


def is_multi_model(model: Model) -> bool:
    """Whether ``model`` serves many models from a prefix (``Mode`` MultiModel)."""
    return model.primary_container is not None and model.primary_container.mode == MULTI_MODEL


def _task_definition(family: str, model: Model, model_dirs: Mapping[str, str]) -> TaskDefinition:
    primary = model.primary_container
    assert primary is not None  # checked by the caller
    container: dict[str, Any] = {
        "name": model.model_name,
        "image": primary.image,
        "command": ["serve"],
        "essential": True,
        "portMappings": [{"containerPort": MODEL_PORT, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(primary.environment.items())],
        "stopTimeout": SERVE_STOP_TIMEOUT_S,
    }
    doc: dict[str, Any] = {"family": family, "containerDefinitions": [container]}
    mount_at = MODEL_DIR
    if primary.mode == MULTI_MODEL:
        mount_at = MODEL_PREFIX_DIR
        environment = {
            **primary.environment,
            "SAGEMAKER_MULTI_MODEL": "true",
            "DOCKYARD_MODEL_PREFIX_DIR": MODEL_PREFIX_DIR,
        }
        caching = (primary.aws_field("MultiModelConfig") or {}).get("ModelCacheSetting")
        if caching == "Disabled":  # each model is unloaded after each of its requests
            environment["DOCKYARD_MODEL_CACHING"] = "Disabled"
        container["environment"] = [{"name": k, "value": v} for k, v in sorted(environment.items())]
    if primary.model_data_url is not None:
        if model.model_name not in model_dirs:
            raise KeyError(f"no extracted model directory given for model {model.model_name}")
        doc["volumes"] = [
            {"name": MODEL_VOLUME, "host": {"sourcePath": model_dirs[model.model_name]}}
        ]
        container["mountPoints"] = [
            {"sourceVolume": MODEL_VOLUME, "containerPath": mount_at, "readOnly": True}
        ]
    return parse_task_definition(doc)


@dataclass(frozen=True)
class VariantProgress:
    """How far one variant's service got (the server fills it after planning it)."""

    variant_name: str
    desired: int  # InitialInstanceCount
    ready: int  # replicas ready for traffic now (ServicePlan.counts.ready)
    ever_ready: bool  # some replica has passed /ping since the endpoint began (re)creating
    startup_timeout_s: float


@dataclass(frozen=True)
class VariantReplicas:
    """What the server observed of one variant's service this pass."""

    variant_name: str
    desired: int  # InitialInstanceCount
    startup_timeout_s: float
    revision: str | None  # the revision its service runs now (None: no service yet)
    replicas: Sequence[tuple[Task, ReplicaHealth]] = ()  # every task not yet reaped


def variant_progress(variant: VariantReplicas) -> VariantProgress:
    """Progress of a variant: only replicas of the revision being deployed count (an
    update is done when *they* serve), and "ready" means taking traffic now."""
    current = [(t, h) for t, h in variant.replicas if t.revision == variant.revision]
    ready = sum(1 for _, h in current if h.registered)
    return VariantProgress(
        variant_name=variant.variant_name,
        desired=variant.desired,
        ready=ready,
        ever_ready=ever_ready(ready, (h.first_healthy_at for _, h in current)),
        startup_timeout_s=variant.startup_timeout_s,
    )


def replica_label(task: Task, health: ReplicaHealth) -> str:
    """One word for a replica in tables: what a person asks first about it."""
    if health.registered:
        return "healthy"
    if health.draining:
        return "draining"
    if task.is_done:
        return "stopped"
    if task.is_stopping:
        return "stopping"
    if task.last_status is TaskStatus.RUNNING and health.status is HealthStatus.UNHEALTHY:
        return "unhealthy"
    return "starting"


def ever_ready(ready: int, first_healthy_times: Iterable[float | None]) -> bool:
    """Has the variant served at all: a replica ready now, or one that passed /ping once.

    A variant that has ever served is not Failed by its startup timeout, even while
    its replicas are being replaced.
    """
    return ready > 0 or any(t is not None for t in first_healthy_times)


@dataclass(frozen=True)
class EndpointStatusUpdate:
    status: EndpointStatus
    failure_reason: str | None = None
    next_check_at: float | None = None


def endpoint_status(
    current: EndpointStatus, variants: Sequence[VariantProgress], since: float, now: float
) -> EndpointStatusUpdate:
    """The endpoint's next status; ``since`` is when creation (or the update) began.

    Only Creating, Updating and RollingBack move; every other status is returned
    unchanged. A variant none of whose replicas passed /ping in time fails the
    endpoint (Failed; UpdateRollbackFailed when it was rolling back).
    """
    if current not in CONVERGING:
        return EndpointStatusUpdate(current)
    for variant in variants:
        deadline = since + variant.startup_timeout_s
        if not variant.ever_ready and now >= deadline:
            failed = (
                EndpointStatus.UPDATE_ROLLBACK_FAILED
                if current is EndpointStatus.ROLLING_BACK
                else EndpointStatus.FAILED
            )
            return EndpointStatusUpdate(
                failed,
                failure_reason=(
                    f"The primary container for production variant {variant.variant_name} "
                    f"did not pass the ping health check within {variant.startup_timeout_s:g} "
                    "seconds. Check the logs of this endpoint's replicas."
                ),
            )
    if all(v.ready >= v.desired for v in variants):
        return EndpointStatusUpdate(EndpointStatus.IN_SERVICE)
    pending = [since + v.startup_timeout_s for v in variants if not v.ever_ready]
    return EndpointStatusUpdate(current, next_check_at=min(pending) if pending else None)


@dataclass(frozen=True)
class DeployStatus:
    status: EndpointStatus
    since: float  # when it began: startup timeouts count from here
    failure_reason: str | None = None


def status_after_deploy(
    previous: DeployStatus | None, *, changed: bool, now: float
) -> DeployStatus:
    """An endpoint's status once a deploy was saved.

    New: Creating. A deploy that rolls or resizes a variant: Updating, from now. One
    that changes nothing any replica runs keeps the status it had (a re-deploy of the
    same image is not an update, as on SageMaker).
    """
    if previous is None:
        return DeployStatus(EndpointStatus.CREATING, now)
    if changed:
        return DeployStatus(EndpointStatus.UPDATING, now)
    return previous


@dataclass(frozen=True)
class ScaleToZero:
    """Set every variant's service to desiredCount 0 (a failed or deleted endpoint)."""


@dataclass(frozen=True)
class RollBack:
    """Put the variants back on the configuration that served before the update."""


@dataclass(frozen=True)
class FinishDelete:
    """Every replica is gone: remove the services, the route and the endpoint."""


EndpointAction = ScaleToZero | RollBack | FinishDelete


@dataclass(frozen=True)
class EndpointPlan:
    update: EndpointStatusUpdate
    actions: tuple[EndpointAction, ...] = ()


def plan_endpoint(
    current: EndpointStatus,
    variants: Sequence[VariantReplicas],
    since: float,
    now: float,
    *,
    services_at_zero: bool,
    can_roll_back: bool = False,
    failure_reason: str | None = None,
) -> EndpointPlan:
    """The endpoint's next status and what the server does about it.

    Deleting: scale the variants to zero, and finish once no replica is left.
    Creating that fails: Failed, and the variants are scaled to zero (nothing keeps
    restarting a broken model). Updating that fails, with a configuration to go back
    to (``can_roll_back``): RollingBack to it, as SageMaker does, and InService again
    once it serves — the replicas of the old configuration never stopped serving,
    since a rollout stops none of them before new ones are ready — keeping the
    update's ``failure_reason``. Otherwise see :func:`endpoint_status`.
    """
    if current is EndpointStatus.DELETING:
        if not services_at_zero:
            return EndpointPlan(EndpointStatusUpdate(current), (ScaleToZero(),))
        if all(not v.replicas for v in variants):
            return EndpointPlan(EndpointStatusUpdate(current), (FinishDelete(),))
        return EndpointPlan(EndpointStatusUpdate(current))
    if current is EndpointStatus.FAILED and not services_at_zero:
        return EndpointPlan(EndpointStatusUpdate(current), (ScaleToZero(),))
    update = endpoint_status(current, [variant_progress(v) for v in variants], since, now)
    updating = current is EndpointStatus.UPDATING
    if update.status is EndpointStatus.FAILED and updating and can_roll_back:
        rolling = EndpointStatusUpdate(
            EndpointStatus.ROLLING_BACK, failure_reason=update.failure_reason
        )
        return EndpointPlan(rolling, (RollBack(),))
    if current is EndpointStatus.ROLLING_BACK and update.status is EndpointStatus.IN_SERVICE:
        update = replace(update, failure_reason=failure_reason)
    failed = update.status is EndpointStatus.FAILED and not services_at_zero
    return EndpointPlan(update, (ScaleToZero(),) if failed else ())


def serving_task_definition(
    family: str, model: Model, model_dirs: Mapping[str, str]
) -> TaskDefinition:
    """The task definition that serves ``model`` (``serve`` on port 8080, the extracted
    artifact at /opt/ml/model): an endpoint replica's, and a batch transform replica's."""
    return _task_definition(family, model, model_dirs)
