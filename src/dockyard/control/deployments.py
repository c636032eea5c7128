"""An ECS service's deployments and its deletion (pure).

ECS describes a service's rollout as *deployments*: the one it is moving to (PRIMARY)
and the ones whose tasks are still being replaced (ACTIVE). Each has a ``rolloutState``:
IN_PROGRESS until the service is steady on it, then COMPLETED (FAILED belongs to the
deployment circuit breaker). Dockyard keeps the list on the service's record and
derives the rest from the tasks:

* :func:`next_deployments` — what a CreateService or UpdateService makes of the list:
  a new PRIMARY when the revision changes or a new deployment is forced, none when only
  the count changes (ECS scales the PRIMARY deployment in place);
* :func:`deployment_views` — DescribeServices' ``deployments[]``: counts per deployment
  from its tasks; superseded deployments are listed while they still have tasks;
* :func:`delete_refusal` / :func:`finished_draining` — ECS's DeleteService: refused
  while ``desiredCount`` > 0 unless forced; the service is DRAINING until its last
  task has stopped, then it is gone;
* :func:`task_label` — one word per task for ``dockyard service describe``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from dockyard.control.endpoint import replica_label
from dockyard.control.readiness import Readiness, ReplicaHealth, assess
from dockyard.control.service import ServiceState
from dockyard.control.task import STARTING_STATUSES, Task, TaskStatus

#: ECS keeps at most this many deployments on a service; older finished ones drop off
MAX_DEPLOYMENTS = 10


class ServiceStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DRAINING = "DRAINING"  # deleted: its tasks are stopping; gone once none is left
    INACTIVE = "INACTIVE"


class RolloutState(StrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    IN_PROGRESS = "IN_PROGRESS"


@dataclass(frozen=True)
class Deployment:
    """One deployment of a service: a revision it rolled to, and how that went.

    ``rollout_state`` is stored once the deployment is superseded (what it had reached
    then); for the PRIMARY one it is derived from the service's steady verdict.
    """

    id: str  # "ecs-svc/<digits>", the tasks' ``startedBy`` in ECS
    revision: str
    created_at: float
    updated_at: float
    rollout_state: RolloutState = RolloutState.IN_PROGRESS
    rollout_state_reason: str = ""
    #: the circuit breaker's tally (:mod:`dockyard.control.circuit_breaker`): failed
    #: launches so far, and the task ids it has judged already, so that none counts twice
    failed_tasks: int = 0
    counted: tuple[str, ...] = ()  # task ids counted as failed launches
    healthy: tuple[str, ...] = ()  # task ids seen healthy (they can no longer fail a launch)


@dataclass(frozen=True)
class DeploymentView:
    """DescribeServices' ``deployments[]`` entry, counts included."""

    deployment: Deployment
    status: str  # PRIMARY | ACTIVE
    desired_count: int
    running_count: int
    pending_count: int
    rollout_state: RolloutState
    rollout_state_reason: str


def next_deployments(
    current: Sequence[Deployment],
    revision: str,
    *,
    force: bool,
    steady: bool,
    now: float,
    new_id: str,
) -> tuple[tuple[Deployment, ...], bool]:
    """The deployments after a create or update to ``revision``; True when a new one began.

    ``steady``: the service's verdict on its PRIMARY deployment until now (a superseded
    deployment keeps COMPLETED if it had got there, IN_PROGRESS otherwise).
    """
    primary = current[-1] if current else None
    if primary is not None and primary.revision == revision and not force:
        return tuple(current), False
    earlier = list(current)
    if primary is not None:
        reached = primary.rollout_state
        if reached is RolloutState.IN_PROGRESS and steady:
            reached = RolloutState.COMPLETED
        earlier[-1] = replace(primary, rollout_state=reached, updated_at=now)
    started = Deployment(new_id, revision, now, now)
    return (*earlier[-(MAX_DEPLOYMENTS - 1) :], started), True


def deployment_views(
    deployments: Sequence[Deployment],
    tasks: Sequence[Task],
    *,
    desired_count: int,
    steady: bool,
) -> list[DeploymentView]:
    """The PRIMARY deployment, then earlier ones that still have tasks, newest first.

    A deployment that FAILED and gave way to the PRIMARY one (a circuit breaker's
    rollback) stays listed, INACTIVE once its tasks are gone, so its verdict is seen.
    """
    views = []
    for index, deployment in enumerate(reversed(deployments)):
        mine = [t for t in tasks if t.deployment == deployment.id and not t.is_done]
        primary = index == 0
        just_failed = index == 1 and deployment.rollout_state is RolloutState.FAILED
        if not primary and not mine and not just_failed:
            continue
        state: RolloutState
        if primary and deployment.rollout_state is RolloutState.FAILED:
            state, reason = deployment.rollout_state, deployment.rollout_state_reason
        elif primary:
            state = RolloutState.COMPLETED if steady else RolloutState.IN_PROGRESS
            reason = (
                "ECS deployment " + deployment.id + " completed."
                if steady
                else deployment.rollout_state_reason
            )
        else:
            state, reason = deployment.rollout_state, deployment.rollout_state_reason
        live = [t for t in mine if not t.is_stopping]
        views.append(
            DeploymentView(
                deployment=deployment,
                status="PRIMARY" if primary else "ACTIVE" if mine else "INACTIVE",
                desired_count=desired_count if primary else len(live),
                running_count=sum(1 for t in mine if t.last_status is TaskStatus.RUNNING),
                pending_count=sum(1 for t in mine if t.last_status in STARTING_STATUSES),
                rollout_state=state,
                rollout_state_reason=reason,
            )
        )
    return views


def delete_refusal(service: str, desired_count: int, *, force: bool) -> str | None:
    """Why DeleteService must refuse (ECS: only a service scaled to 0, unless forced)."""
    if force or desired_count == 0:
        return None
    return (
        f"The service {service} cannot be stopped while it is scaled above 0 "
        f"(desiredCount {desired_count})."
    )


def finished_draining(status: ServiceStatus, tasks_left: int) -> bool:
    """A deleted (DRAINING) service goes once it has no task left, stopped ones included."""
    return status is ServiceStatus.DRAINING and tasks_left == 0


def task_label(service: ServiceState, task: Task, health: ReplicaHealth, now: float) -> str:
    """One word for a service's task (healthy, starting, draining, stopped…).

    A load-balanced task is healthy while it is a registered target; a task of a
    service without a load balancer is healthy once the scheduler counts it ready.
    """
    if service.target_group is not None or task.is_done or task.is_stopping:
        return replica_label(task, health)
    verdict = assess(task, service.policy, None, now)
    if verdict.readiness is Readiness.READY:
        return "healthy"
    return "unhealthy" if verdict.readiness is Readiness.FAILED else "starting"
