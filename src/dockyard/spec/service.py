"""An ECS service: keep ``desiredCount`` tasks of one task definition running.

The JSON is ECS's ``CreateService`` request. Dockyard reads the fields the service
scheduler needs (count, deployment bounds, circuit breaker, grace period, load
balancer) and keeps the rest as written. Defaults are ECS's: minimumHealthyPercent
100, maximumPercent 200, healthCheckGracePeriodSeconds 0.

Locally a load balancer's target group is a route of Dockyard's load balancer, named
like the target group (the name part of a target group ARN, or a plain name).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, model_validator

from dockyard.errors import SpecError
from dockyard.spec import aws_model
from dockyard.spec.base import EcsModel, validate_document
from dockyard.spec.container import Port
from dockyard.spec.errors import SpecValueError, did_you_mean
from dockyard.spec.fields import Bool, Int, NonEmpty, count_between, in_range, one_of
from dockyard.spec.names import (
    EcsName,
    TaskDefinitionRef,
    parse_task_definition_ref,
    target_group_name,
)
from dockyard.spec.task_definition import TaskDefinition

CIRCUIT_BREAKER_MIN_THRESHOLD, CIRCUIT_BREAKER_MAX_THRESHOLD = 3, 200
MAX_GRACE_PERIOD_S = 2_147_483_647


class ThresholdConfiguration(EcsModel):
    """How many failed task launches trip the circuit breaker (``type`` and ``value``)."""

    aws_shape: ClassVar[str | None] = "ThresholdConfiguration"
    type: Annotated[str, one_of("ecs", "ThresholdType")]
    value: Annotated[Int, in_range(0, None)]


class DeploymentCircuitBreaker(EcsModel):
    """Fail (and with ``rollback``, undo) a deployment whose tasks keep failing to start."""

    aws_shape: ClassVar[str | None] = "DeploymentCircuitBreaker"
    enable: Bool
    rollback: Bool
    reset_on_healthy_task: Bool = True
    threshold_configuration: ThresholdConfiguration | None = None

    def failure_threshold(self, desired_count: int) -> int:
        """Failed launches after which the deployment fails.

        Default (BOUNDED_PERCENT 50): half the desired count, at least 3 and at most 200.
        COUNT: ``value`` itself. UNBOUNDED_PERCENT: ``value`` % of the desired count.
        """
        config = self.threshold_configuration
        kind = "BOUNDED_PERCENT" if config is None else config.type
        value = 50 if config is None else config.value
        if kind == "COUNT":
            return value
        threshold = math.ceil(desired_count * value / 100)
        if kind == "UNBOUNDED_PERCENT":
            return max(threshold, 1)
        return min(max(threshold, CIRCUIT_BREAKER_MIN_THRESHOLD), CIRCUIT_BREAKER_MAX_THRESHOLD)


class DeploymentConfiguration(EcsModel):
    """Bounds of a rolling deployment, as percentages of ``desiredCount``."""

    aws_shape: ClassVar[str | None] = "DeploymentConfiguration"
    minimum_healthy_percent: Annotated[Int, in_range(0, 100, "percent")] = 100
    maximum_percent: Annotated[Int, in_range(100, None, "percent")] = 200
    deployment_circuit_breaker: DeploymentCircuitBreaker | None = None


def _check_target_group(value: str) -> str:
    target_group_name(value)
    return value


class LoadBalancer(EcsModel):
    """Which container port receives the service's traffic, through which target group."""

    aws_shape: ClassVar[str | None] = "LoadBalancer"
    target_group_arn: Annotated[str, AfterValidator(_check_target_group)] | None = None
    load_balancer_name: str | None = None
    container_name: NonEmpty
    container_port: Port

    @model_validator(mode="after")
    def _one_target(self) -> LoadBalancer:
        if (self.target_group_arn is None) == (self.load_balancer_name is None):
            raise SpecValueError(
                "give exactly one of targetGroupArn and loadBalancerName",
                hint="name the target group (its ARN or, locally, just its name)",
                at=("targetGroupArn",),
            )
        return self

    @property
    def target_group(self) -> str:
        """The local route name: the target group's name (or the classic LB's name)."""
        if self.target_group_arn is not None:
            return target_group_name(self.target_group_arn)
        return self.load_balancer_name or ""


def _task_definition_ref(value: str) -> str:
    parse_task_definition_ref(value)
    return value


def _replica_only(value: str) -> str:
    if value != "REPLICA":
        raise SpecValueError(
            f"schedulingStrategy {value} is not supported by Dockyard",
            hint='use "REPLICA" (one machine has no per-instance daemons to schedule)',
        )
    return value


class ServiceSpec(EcsModel):
    """A CreateService request: the fields the scheduler acts on, the rest kept as written."""

    aws_shape: ClassVar[str | None] = "CreateServiceRequest"
    output_only: ClassVar[frozenset[str]] = frozenset(
        aws_model.members("ecs", "Service")
    ) - frozenset(aws_model.members("ecs", "CreateServiceRequest"))

    service_name: EcsName
    task_definition: Annotated[str, AfterValidator(_task_definition_ref)]
    desired_count: Annotated[Int, in_range(0, None)]
    deployment_configuration: DeploymentConfiguration = Field(
        default_factory=DeploymentConfiguration
    )
    health_check_grace_period_seconds: Annotated[
        Int, in_range(0, MAX_GRACE_PERIOD_S, "seconds")
    ] = 0
    load_balancers: Annotated[
        tuple[LoadBalancer, ...], count_between(None, 1, "load balancer")
    ] = ()
    launch_type: Annotated[str, one_of("ecs", "LaunchType")] | None = None
    scheduling_strategy: (
        Annotated[str, one_of("ecs", "SchedulingStrategy"), AfterValidator(_replica_only)] | None
    ) = None

    @property
    def task_definition_ref(self) -> TaskDefinitionRef:
        return parse_task_definition_ref(self.task_definition)

    @property
    def target_group(self) -> str | None:
        """The route tasks are registered in, or ``None`` when not load balanced."""
        return self.load_balancers[0].target_group if self.load_balancers else None


def parse_service(doc: Mapping[str, Any]) -> ServiceSpec:
    """Validate a user's CreateService JSON; raise SpecError naming the field and fix."""
    return validate_document(ServiceSpec, doc, what="service")


def check_service_fits(service: ServiceSpec, task: TaskDefinition) -> None:
    """Raise SpecError unless ``task`` can run as ``service`` (ECS checks this on create).

    The load balancer's container must exist and map its port; the launch type must be
    one the task definition supports (:func:`check_launch_type`).
    """
    for index, balancer in enumerate(service.load_balancers):
        at = f"loadBalancers[{index}]"
        names = [c.name for c in task.container_definitions]
        if balancer.container_name not in names:
            guess = did_you_mean(balancer.container_name, names)
            raise SpecError(
                f'task definition {task.family} has no container "{balancer.container_name}"',
                field=f"{at}.containerName",
                hint=f'did you mean "{guess}"?' if guess else f"use one of: {', '.join(names)}",
            )
        ports = [m.container_port for m in task.container(balancer.container_name).port_mappings]
        if balancer.container_port not in ports:
            raise SpecError(
                f"The container {balancer.container_name} did not have a container port "
                f"{balancer.container_port} defined.",
                field=f"{at}.containerPort",
                hint=f"add a portMappings entry for {balancer.container_port}, or use one of "
                f"{ports or 'its mapped ports (it maps none)'}",
            )
    check_launch_type(service.launch_type, task)


def check_launch_type(launch_type: str | None, task: TaskDefinition) -> None:
    """Raise SpecError unless ``task`` may run with ``launch_type`` (ECS's check).

    FARGATE needs a task definition that requires FARGATE compatibility; EC2 is refused
    only by one that lists its compatibilities without EC2.
    """
    wanted = task.requires_compatibilities
    refused = (launch_type == "FARGATE" and "FARGATE" not in wanted) or (
        launch_type == "EC2" and bool(wanted) and "EC2" not in wanted
    )
    if refused:
        raise SpecError(
            f"Task definition does not support launch_type {launch_type}.",
            field="launchType",
            hint=f'add "{launch_type}" to the task definition\'s requiresCompatibilities, '
            f"or use the launch type it requires ({', '.join(wanted) or 'EC2'})",
        )
