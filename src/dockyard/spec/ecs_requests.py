"""ECS's service and task requests a user sends: CreateService, UpdateService, RunTask.

Each request is first type-checked as a whole against botocore's shape for it (so a
member the models do not declare is still held to AWS's rules), then validated into a
model of the fields Dockyard acts on. Every problem is a :class:`SpecError` naming the
field and the fix; nothing here does I/O, so the server validates a request before it
writes anything.

``RunTask``'s ``overrides`` (ECS's TaskOverride) change a task definition for one run:
:func:`apply_overrides` returns the definition the task runs, validated again as a
whole, so an override cannot produce a task ECS would refuse (a Fargate cpu/memory
pair that does not exist, a memoryReservation above memory).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from dockyard.errors import SpecError
from dockyard.spec.aws_shape import check_shape
from dockyard.spec.base import EcsModel, validate_document
from dockyard.spec.container import KeyValuePair, MiB
from dockyard.spec.errors import InvalidDocument, did_you_mean
from dockyard.spec.fields import Bool, Int, NonEmpty, in_range, one_of
from dockyard.spec.names import EcsName, parse_task_definition_ref
from dockyard.spec.service import (
    MAX_GRACE_PERIOD_S,
    DeploymentConfiguration,
    LoadBalancer,
    ServiceSpec,
    parse_service,
)
from dockyard.spec.task_definition import TaskDefinition, parse_task_definition

#: ECS's limit on RunTask's ``count``
MAX_RUN_TASK_COUNT = 10
MAX_STARTED_BY = 128
#: the request members that say where a service's tasks go (kept as written)
PLACEMENT_MEMBERS = ("placementStrategy", "placementConstraints")


def _task_definition_ref(value: str) -> str:
    parse_task_definition_ref(value)
    return value


TaskDefinitionText = Annotated[str, AfterValidator(_task_definition_ref)]


def _typed(shape: str, doc: Any, what: str) -> Mapping[str, Any]:
    """``doc`` checked against botocore's ``shape``: every problem at once, or raise."""
    if not isinstance(doc, Mapping):
        raise SpecError(
            f"a {what} must be a JSON object, not {type(doc).__name__}",
            hint=f"write the {what} as {{...}}",
        )
    problems = check_shape("ecs", shape, doc)
    if problems:
        raise InvalidDocument(problems, what=what)
    return doc


# -- services ---------------------------------------------------------------------------------


def parse_create_service(doc: Any) -> ServiceSpec:
    """A CreateService request, type-checked whole, then read into :class:`ServiceSpec`."""
    return parse_service(_typed("CreateServiceRequest", doc, "CreateService request"))


class UpdateServiceRequest(EcsModel):
    """UpdateService: every member optional but the service; absent means unchanged."""

    aws_shape: ClassVar[str | None] = "UpdateServiceRequest"

    service: EcsName
    desired_count: Annotated[Int, in_range(0, None)] | None = None
    task_definition: TaskDefinitionText | None = None
    deployment_configuration: DeploymentConfiguration | None = None
    force_new_deployment: Bool = False
    health_check_grace_period_seconds: (
        Annotated[Int, in_range(0, MAX_GRACE_PERIOD_S, "seconds")] | None
    ) = None
    load_balancers: tuple[LoadBalancer, ...] | None = None


def parse_update_service(doc: Any) -> UpdateServiceRequest:
    return validate_document(
        UpdateServiceRequest,
        _typed("UpdateServiceRequest", doc, "UpdateService request"),
        what="UpdateService request",
    )


def updated_spec(spec: ServiceSpec, update: UpdateServiceRequest, revision: str) -> ServiceSpec:
    """The service's CreateService document after ``update`` (running ``revision``).

    Changing the load balancers of a running service is refused: locally the target
    group is the service's route, and moving it would change the service's URL.
    ``placementStrategy`` and ``placementConstraints``, when given, replace the
    service's (an empty list removes them); as on ECS they start no deployment: the
    tasks the service starts from then on are placed by them.
    """
    if update.load_balancers is not None and update.load_balancers != spec.load_balancers:
        raise SpecError(
            "a service's load balancers cannot be changed locally",
            field="loadBalancers",
            hint="leave loadBalancers out of the update, or delete the service and create "
            "it again with the new ones",
        )
    changes: dict[str, Any] = {"task_definition": revision}
    if update.desired_count is not None:
        changes["desired_count"] = update.desired_count
    if update.deployment_configuration is not None:
        changes["deployment_configuration"] = update.deployment_configuration
    if update.health_check_grace_period_seconds is not None:
        changes["health_check_grace_period_seconds"] = update.health_check_grace_period_seconds
    for member in PLACEMENT_MEMBERS:
        if update.aws_field(member) is not None:
            changes[member] = update.aws_field(member)
    return spec.model_copy(update=changes)


# -- tasks ------------------------------------------------------------------------------------


class ContainerOverride(EcsModel):
    """What one container of a task runs differently (ECS's ContainerOverride)."""

    aws_shape: ClassVar[str | None] = "ContainerOverride"

    name: NonEmpty
    command: tuple[str, ...] | None = None
    environment: tuple[KeyValuePair, ...] = ()
    cpu: Annotated[Int, in_range(0, None, "CPU units")] | None = None
    memory: MiB | None = None
    memory_reservation: MiB | None = None


class TaskOverride(EcsModel):
    """Changes to a task definition for one RunTask (ECS's TaskOverride)."""

    aws_shape: ClassVar[str | None] = "TaskOverride"

    container_overrides: tuple[ContainerOverride, ...] = ()
    cpu: NonEmpty | None = None
    memory: NonEmpty | None = None


def _started_by(value: str) -> str:
    if len(value) > MAX_STARTED_BY:
        raise SpecError(
            f"startedBy is {len(value)} characters long",
            field="startedBy",
            hint=f"use at most {MAX_STARTED_BY} characters",
        )
    return value


class RunTaskRequest(EcsModel):
    """RunTask: ``count`` tasks of a task definition revision, outside any service."""

    aws_shape: ClassVar[str | None] = "RunTaskRequest"

    task_definition: TaskDefinitionText
    count: Annotated[Int, in_range(1, MAX_RUN_TASK_COUNT)] = 1
    overrides: TaskOverride = Field(default_factory=TaskOverride)
    started_by: Annotated[str, AfterValidator(_started_by)] | None = None
    launch_type: Annotated[str, one_of("ecs", "LaunchType")] | None = None
    group: str | None = None


def parse_run_task(doc: Any) -> RunTaskRequest:
    return validate_document(
        RunTaskRequest, _typed("RunTaskRequest", doc, "RunTask request"), what="RunTask request"
    )


def apply_overrides(definition: TaskDefinition, overrides: TaskOverride) -> TaskDefinition:
    """The task definition one task runs: ``definition`` with ECS's overrides applied.

    ``command`` replaces the container's; ``environment`` entries are added, replacing
    ones of the same name; ``cpu``/``memory``/``memoryReservation`` replace the
    container's, the task-level ``cpu``/``memory`` the task's.
    """
    if overrides == TaskOverride():
        return definition
    doc = definition.to_aws()
    containers = {c["name"]: c for c in doc["containerDefinitions"]}
    for index, override in enumerate(overrides.container_overrides):
        container = containers.get(override.name)
        if container is None:
            guess = did_you_mean(override.name, containers)
            raise SpecError(
                f'task definition {definition.family} has no container "{override.name}"',
                field=f"overrides.containerOverrides[{index}].name",
                hint=f'did you mean "{guess}"?'
                if guess
                else f"use one of: {', '.join(containers)}",
            )
        if override.command is not None:
            container["command"] = list(override.command)
        if override.environment:
            merged = {e["name"]: e.get("value", "") for e in container.get("environment", [])}
            merged.update({pair.name: pair.value for pair in override.environment})
            container["environment"] = [{"name": k, "value": v} for k, v in merged.items()]
        for key, value in (
            ("cpu", override.cpu),
            ("memory", override.memory),
            ("memoryReservation", override.memory_reservation),
        ):
            if value is not None:
                container[key] = value
    if overrides.cpu is not None:
        doc["cpu"] = overrides.cpu
    if overrides.memory is not None:
        doc["memory"] = overrides.memory
    try:
        return parse_task_definition(doc)
    except SpecError as error:
        where = f" at {error.field}" if error.field else ""
        raise SpecError(
            f"with these overrides the task definition is not valid{where}: {error.message}",
            field="overrides",
            hint=error.hint or "change the overrides so the task definition stays valid",
        ) from None
