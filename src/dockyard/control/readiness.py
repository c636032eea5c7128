"""Is a service's task ready for traffic, still starting, or failed? (pure)

Two kinds of health check can apply to a task, and ECS counts both:

* **container health checks** (Docker HEALTHCHECK from the task definition), carried
  on the :class:`~dockyard.control.task.Task` record by ``observe``;
* the **load balancer's target health check** (ALB-style; for endpoints, ``GET
  /ping``), run by the server and handed in as :class:`ReplicaHealth`, for
  load-balanced services only.

A task is READY when every check that applies passes. Unhealthy results are ignored
during ``healthCheckGracePeriodSeconds`` after the task started (ECS). A task that has
never passed within the service's startup timeout (counted from its creation) FAILED,
as does one that is unhealthy after the grace period. A task with no check at all
counts as ready 40 seconds after it reached RUNNING (ECS waits as long before counting
such a task towards minimumHealthyPercent).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dockyard.control import events
from dockyard.control.task import HealthStatus, Task, TaskStatus

UNCHECKED_SETTLE_S = 40.0

CONTAINER_CHECKS_FAILED = "Task failed container health checks"


class Readiness(StrEnum):
    READY = "READY"  # passes every check: may take traffic, counts as healthy
    WAITING = "WAITING"  # not ready yet (or not any more), not failed
    FAILED = "FAILED"  # to be stopped and replaced


@dataclass(frozen=True)
class ReplicaHealth:
    """One task as a load-balancer target: its health verdict and its membership.

    ``status`` and ``first_healthy_at`` come from the task's check history
    (:mod:`dockyard.control.health`: UNKNOWN until the first verdict); the server must
    check every RUNNING task of the service, registered or not (registration follows
    health, not the reverse). ``registered`` (taking traffic) and ``draining`` (no new
    requests, ``in_flight`` still finishing) are what the load balancer reports now;
    ``drain_started_at`` is when the server began draining it.
    """

    status: HealthStatus = HealthStatus.UNKNOWN
    first_healthy_at: float | None = None
    registered: bool = False
    draining: bool = False
    in_flight: int = 0
    drain_started_at: float | None = None

    @property
    def in_load_balancer(self) -> bool:
        """Still held by the load balancer (registered or draining): not to be stopped."""
        return self.registered or self.draining


@dataclass(frozen=True)
class Assessment:
    readiness: Readiness
    reason: str = ""  # stoppedReason when FAILED
    event: str = ""  # service event when FAILED
    recheck_at: float | None = None  # when time alone may change the verdict


@dataclass(frozen=True)
class HealthPolicy:
    """The parts of a service that decide readiness."""

    service: str
    target_group: str | None = None
    grace_period_s: float = 0.0
    startup_timeout_s: float | None = None
    unchecked_settle_s: float = UNCHECKED_SETTLE_S


def assess(task: Task, policy: HealthPolicy, lb: ReplicaHealth | None, now: float) -> Assessment:
    """Readiness of a task that should be running (desiredStatus RUNNING, not STOPPED)."""
    deadline = (
        None if policy.startup_timeout_s is None else task.created_at + policy.startup_timeout_s
    )
    if task.last_status is not TaskStatus.RUNNING:
        if deadline is not None and now >= deadline:
            return _missed_startup(task, policy)
        return Assessment(Readiness.WAITING, recheck_at=deadline)
    started = task.started_at if task.started_at is not None else task.created_at
    grace_end = started + policy.grace_period_s
    container = task.health_status if task.health_checked else None
    target = None
    if policy.target_group is not None:
        target = lb.status if lb is not None else HealthStatus.UNKNOWN
    if HealthStatus.UNHEALTHY in (container, target) and now >= grace_end:
        return _unhealthy(task, policy, by_container=container is HealthStatus.UNHEALTHY)
    if container in (None, HealthStatus.HEALTHY) and target in (None, HealthStatus.HEALTHY):
        if container is None and target is None:
            settle_end = started + policy.unchecked_settle_s
            if now < settle_end:
                return Assessment(Readiness.WAITING, recheck_at=settle_end)
        return Assessment(Readiness.READY)
    if not _ever_passed(task, policy, lb) and deadline is not None:
        if now >= deadline:
            return _missed_startup(task, policy)
        recheck = min(deadline, grace_end) if grace_end > now else deadline
        return Assessment(Readiness.WAITING, recheck_at=recheck)
    return Assessment(Readiness.WAITING, recheck_at=grace_end if grace_end > now else None)


def _ever_passed(task: Task, policy: HealthPolicy, lb: ReplicaHealth | None) -> bool:
    container_ok = not task.health_checked or task.first_healthy_at is not None
    target_ok = policy.target_group is None or (lb is not None and lb.first_healthy_at is not None)
    return container_ok and target_ok


def _unhealthy(task: Task, policy: HealthPolicy, *, by_container: bool) -> Assessment:
    if by_container or policy.target_group is None:
        return Assessment(
            Readiness.FAILED,
            reason=CONTAINER_CHECKS_FAILED,
            event=events.failed_container_health(policy.service, task.task_id),
        )
    return Assessment(
        Readiness.FAILED,
        reason=f"Task failed ELB health checks in (target-group {policy.target_group})",
        event=events.failed_target_health(policy.service, task.task_id, policy.target_group),
    )


def _missed_startup(task: Task, policy: HealthPolicy) -> Assessment:
    seconds = policy.startup_timeout_s or 0.0
    return Assessment(
        Readiness.FAILED,
        reason=f"Task did not pass its health checks within {seconds:g} seconds of starting",
        event=events.missed_startup(policy.service, task.task_id, seconds),
    )
