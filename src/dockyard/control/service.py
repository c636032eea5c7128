"""The service scheduler: keep ``desiredCount`` ready tasks of one revision (pure).

:func:`plan_service` compares a service's desired state with its tasks and their
health, and returns the actions that move one step closer, in the order to execute
them (register, deregister, stop, start): newly ready tasks join the route before
retiring ones leave it, so a rollout never leaves the route without a target. It is
level-triggered and idempotent: the same inputs always give the same plan, and tasks
already starting (PROVISIONING, PENDING) or stopping are counted, so nothing is
started or stopped twice. The server
calls it every pass (and again at ``next_check_at``), executes the actions, and stores
``plan.steady`` to hand back as ``ServiceState.steady`` next time.

Rules (ECS's rolling-update scheduler):

* tasks that FAILED (see :mod:`dockyard.control.readiness`) are stopped and replaced;
* surplus tasks of the current revision are stopped, not-ready and newest first;
* tasks of other revisions (or of an earlier deployment of the same revision, after a
  forced new deployment) are stopped when not ready, and when ready only while the
  ready count stays at or above ``minimumHealthyPercent`` of desiredCount (rounded up);
* new tasks start while fewer than desiredCount of the current revision exist, never
  taking the tasks not yet STOPPED above ``maximumPercent`` (rounded down);
* a task is a load-balancer target exactly while it is RUNNING and READY; a target
  that stops being one drains first, and is removed once its requests in flight
  finished or ``deregistration_delay_s`` passed (the task's containers are stopped
  only then, see :mod:`dockyard.control.service_actions`);
* a *halted* service (its deployment FAILED by the circuit breaker, nothing to roll
  back to: :mod:`dockyard.control.circuit_breaker`) starts nothing and retires nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from dockyard.control import events
from dockyard.control.readiness import (
    UNCHECKED_SETTLE_S,
    Assessment,
    HealthPolicy,
    Readiness,
    ReplicaHealth,
    assess,
)
from dockyard.control.service_actions import (
    DeregisterTarget,
    RegisterTarget,
    RemoveTarget,
    ServiceAction,
    ServiceCounts,
    ServicePlan,
    StartTask,
    StopTask,
)
from dockyard.control.task import STARTING_STATUSES, StopCode, Task, TaskStatus
from dockyard.spec.service import ServiceSpec
from dockyard.spec.target_group import DEFAULT_DEREGISTRATION_DELAY_S, TargetGroupAttributes

#: how long a deregistered target may finish its requests in flight before it is cut
#: (ALB's deregistration delay; short, since model requests take milliseconds)
DEREGISTRATION_DELAY_S = float(DEFAULT_DEREGISTRATION_DELAY_S)

__all__ = [
    "DeregisterTarget",
    "RegisterTarget",
    "RemoveTarget",
    "ReplicaHealth",
    "ServiceAction",
    "ServiceCounts",
    "ServicePlan",
    "ServiceState",
    "StartTask",
    "StopTask",
    "plan_service",
    "saved_state",
    "service_state",
]


@dataclass(frozen=True)
class ServiceState:
    """What the scheduler needs to know about a service (desired state + last verdict)."""

    name: str
    revision: str  # task definition "family:N" the service runs now
    desired_count: int
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200
    health_check_grace_period_s: float = 0.0
    startup_timeout_s: float | None = None  # never-healthy tasks fail after this long
    target_group: str | None = None  # route of the load balancer; None: not load-balanced
    steady: bool = False  # the previous plan's ``steady``
    unchecked_settle_s: float = UNCHECKED_SETTLE_S
    deregistration_delay_s: float = DEREGISTRATION_DELAY_S  # longest drain of a target
    #: the current deployment's id ("" where there are none, e.g. endpoint variants):
    #: tasks of another deployment are replaced like tasks of another revision
    deployment: str = ""
    #: the current deployment FAILED (circuit breaker, no rollback): launch no task and
    #: retire none, so the tasks that served before keep serving
    halted: bool = False

    def is_current(self, task: Task) -> bool:
        """Does ``task`` belong to what the service runs now (revision and deployment)?"""
        return task.revision == self.revision and task.deployment == self.deployment

    @property
    def max_tasks(self) -> int:
        """Tasks allowed not yet STOPPED: maximumPercent of desiredCount, rounded down."""
        return self.desired_count * self.maximum_percent // 100

    @property
    def min_ready(self) -> int:
        """Ready tasks to keep: minimumHealthyPercent of desiredCount, rounded up."""
        return math.ceil(self.desired_count * self.minimum_healthy_percent / 100)

    @property
    def policy(self) -> HealthPolicy:
        return HealthPolicy(
            service=self.name,
            target_group=self.target_group,
            grace_period_s=self.health_check_grace_period_s,
            startup_timeout_s=self.startup_timeout_s,
            unchecked_settle_s=self.unchecked_settle_s,
        )


#: an ALB target is first judged unhealthy only after its unhealthy threshold (2) of
#: checks every interval (30 s) failed; Dockyard checks far more often, so a
#: load-balanced task's failures count only this long after it started, at least
ELB_FIRST_VERDICT_S = 2 * 30.0


def service_state(
    spec: ServiceSpec,
    revision: str,
    *,
    steady: bool = False,
    attributes: TargetGroupAttributes | None = None,
) -> ServiceState:
    """The scheduler's view of a validated CreateService request running ``revision``,
    its targets drained for the deregistration delay of its target group ``attributes``.

    Behind a load balancer the grace period is at least :data:`ELB_FIRST_VERDICT_S`,
    so a task whose server needs a few seconds to listen is not replaced before an
    ALB would have judged it.
    """
    deployment = spec.deployment_configuration
    grace = float(spec.health_check_grace_period_seconds)
    if spec.target_group is not None:
        grace = max(grace, ELB_FIRST_VERDICT_S)
    return ServiceState(
        name=spec.service_name,
        revision=revision,
        desired_count=spec.desired_count,
        minimum_healthy_percent=deployment.minimum_healthy_percent,
        maximum_percent=deployment.maximum_percent,
        health_check_grace_period_s=grace,
        target_group=spec.target_group,
        steady=steady,
        deregistration_delay_s=float(
            (attributes or TargetGroupAttributes()).deregistration_delay_s
        ),
    )


def saved_state(current: ServiceState | None, wanted: ServiceState) -> tuple[ServiceState, bool]:
    """The state to store when a service is created or updated to ``wanted``, and
    whether its tasks must change (a new revision rolls them, a new count resizes).

    An update that changes neither keeps the service's ``steady`` verdict, so a
    re-deploy of the same thing is not a deployment (no events, no status change).
    """
    changed = (
        current is None
        or current.revision != wanted.revision
        or current.deployment != wanted.deployment
        or current.desired_count != wanted.desired_count
    )
    steady = current is not None and not changed and current.steady
    return replace(wanted, steady=steady), changed


def _age(task: Task) -> tuple[float, str]:
    return (task.created_at, task.task_id)


def plan_service(
    service: ServiceState,
    tasks: Sequence[Task],
    health: Mapping[str, ReplicaHealth],
    now: float,
) -> ServicePlan:
    """The next step for ``service``.

    ``tasks``: every task of the service not yet STOPPED, plus stopped ones that may
    still be registered. ``health``: the load balancer's view by task id (ignored when
    the service has no target group; an id with ``registered`` and no task is
    deregistered).
    """
    ordered = sorted(tasks, key=_age)
    live = [t for t in ordered if not t.is_done and not t.is_stopping]
    verdicts = {t.task_id: assess(t, service.policy, health.get(t.task_id), now) for t in live}
    failed = [t for t in live if verdicts[t.task_id].readiness is Readiness.FAILED]
    keep = _without(live, failed)
    surplus = _surplus(service, keep, verdicts)
    keep = _without(keep, surplus)
    retired = [] if service.halted else _retired(service, keep, verdicts)
    keep = _without(keep, retired)
    stops = [_failed_stop(t, verdicts[t.task_id]) for t in failed]
    reason = f"Scaling activity initiated by (deployment {service.deployment or service.revision})"
    stops += [StopTask(t.task_id, reason) for t in sorted(surplus + retired, key=_age)]
    starts = [] if service.halted else _starts(service, ordered, keep)
    ready = [t for t in keep if verdicts[t.task_id].readiness is Readiness.READY]
    register, deregister = _targets(service, ordered, ready, health)
    removals, drain_ends = _removals(service, health, now)
    actions: list[ServiceAction] = [*register, *deregister, *removals, *stops, *starts]
    draining = any(h.draining for h in health.values())
    # a halted service has nothing left to do: steady, though not on its revision
    settled = service.halted or _settled(service, ordered, keep, ready)
    steady = not actions and not draining and settled
    return ServicePlan(
        actions=tuple(actions),
        events=_events(service, actions, ordered, failed, verdicts, steady=steady),
        steady=steady,
        counts=_counts(service, live, ready),
        next_check_at=_next_check([v.recheck_at for v in verdicts.values()] + drain_ends, now),
        blocked_reason=None if actions or service.halted else _blocked(service, ordered, keep),
        ready=tuple(t.task_id for t in ready),
    )


def _without(tasks: list[Task], removed: list[Task]) -> list[Task]:
    gone = {t.task_id for t in removed}
    return [t for t in tasks if t.task_id not in gone]


def _surplus(
    service: ServiceState, keep: list[Task], verdicts: Mapping[str, Assessment]
) -> list[Task]:
    current = [t for t in keep if service.is_current(t)]
    extra = len(current) - service.desired_count
    if extra <= 0:
        return []

    def order(task: Task) -> tuple[bool, float, str]:
        ready = verdicts[task.task_id].readiness is Readiness.READY
        return (ready, -task.created_at, task.task_id)

    return sorted(current, key=order)[:extra]


def _retired(
    service: ServiceState, keep: list[Task], verdicts: Mapping[str, Assessment]
) -> list[Task]:
    old = [t for t in keep if not service.is_current(t)]
    ready_old = [t for t in old if verdicts[t.task_id].readiness is Readiness.READY]
    not_ready_old = _without(old, ready_old)
    ready_total = sum(1 for t in keep if verdicts[t.task_id].readiness is Readiness.READY)
    allowance = max(0, ready_total - service.min_ready)
    return not_ready_old + ready_old[:allowance]


def _failed_stop(task: Task, verdict: Assessment) -> StopTask:
    return StopTask(task.task_id, verdict.reason, StopCode.SERVICE_SCHEDULER_INITIATED, failed=True)


def _starts(service: ServiceState, ordered: list[Task], keep: list[Task]) -> list[StartTask]:
    current = sum(1 for t in keep if service.is_current(t))
    in_use = sum(1 for t in ordered if not t.is_done)
    count = max(0, min(service.desired_count - current, service.max_tasks - in_use))
    return [StartTask(service.revision, service.deployment) for _ in range(count)]


def _targets(
    service: ServiceState,
    ordered: list[Task],
    ready: list[Task],
    health: Mapping[str, ReplicaHealth],
) -> tuple[list[RegisterTarget], list[DeregisterTarget]]:
    group = service.target_group
    if group is None:
        return [], []
    ready_ids = {t.task_id for t in ready}
    register = [
        RegisterTarget(t.task_id, group)
        for t in ready
        if not health.get(t.task_id, ReplicaHealth()).in_load_balancer
    ]
    known = [t.task_id for t in ordered] + sorted(set(health) - {t.task_id for t in ordered})
    deregister = [
        DeregisterTarget(task_id, group)
        for task_id in known
        if task_id not in ready_ids and health.get(task_id, ReplicaHealth()).registered
    ]
    return register, deregister


def _removals(
    service: ServiceState, health: Mapping[str, ReplicaHealth], now: float
) -> tuple[list[RemoveTarget], list[float | None]]:
    """Draining targets that are done: nothing in flight, or their delay is over.

    Also returns when the others' delays end (a drain with requests in flight is
    looked at again then, at the latest).
    """
    group = service.target_group
    if group is None:
        return [], []
    removals: list[RemoveTarget] = []
    ends: list[float | None] = []
    for task_id in sorted(health):
        entry = health[task_id]
        if not entry.draining:
            continue
        # no start recorded (a target left over from before a restart): drained enough
        began = entry.drain_started_at
        end = now if began is None else began + service.deregistration_delay_s
        if entry.in_flight == 0 or now >= end:
            removals.append(RemoveTarget(task_id, group))
        else:
            ends.append(end)
    return removals, ends


def _blocked(service: ServiceState, ordered: list[Task], keep: list[Task]) -> str | None:
    """Why a deployment cannot move at all (no room to start, no leave to stop), if so."""
    current = sum(1 for t in keep if service.is_current(t))
    in_use = sum(1 for t in ordered if not t.is_done)
    waiting = any(t.is_stopping for t in ordered)
    if waiting or current >= service.desired_count or in_use < service.max_tasks:
        return None
    return (
        f"cannot replace tasks: maximumPercent {service.maximum_percent} leaves no room to start "
        f"one and minimumHealthyPercent {service.minimum_healthy_percent} forbids stopping one "
        f"(desiredCount {service.desired_count}); raise maximumPercent or lower "
        "minimumHealthyPercent"
    )


def _settled(
    service: ServiceState, ordered: list[Task], keep: list[Task], ready: list[Task]
) -> bool:
    in_flight = any(t.is_stopping for t in ordered)
    return (
        not in_flight
        and len(keep) == service.desired_count
        and len(ready) == len(keep)
        and all(service.is_current(t) for t in keep)
    )


def _events(
    service: ServiceState,
    actions: list[ServiceAction],
    ordered: list[Task],
    failed: list[Task],
    verdicts: Mapping[str, Assessment],
    *,
    steady: bool,
) -> tuple[str, ...]:
    found = [verdicts[t.task_id].event for t in failed]
    status = {t.task_id: t.last_status for t in ordered}
    stopped = [a.task_id for a in actions if isinstance(a, StopTask)]
    running = [i for i in stopped if status[i] is TaskStatus.RUNNING]
    pending = [i for i in stopped if status[i] in STARTING_STATUSES]
    if running:
        found.append(events.stopped(service.name, running))
    if pending:
        found.append(events.stopped(service.name, pending, running=False))
    group = service.target_group or ""
    if deregistered := sum(1 for a in actions if isinstance(a, DeregisterTarget)):
        found.append(events.deregistered(service.name, group, deregistered))
    if registered := sum(1 for a in actions if isinstance(a, RegisterTarget)):
        found.append(events.registered(service.name, group, registered))
    if steady and not service.steady and not service.halted:
        found.append(events.steady_state(service.name))
    return tuple(found)


def _counts(service: ServiceState, live: list[Task], ready: list[Task]) -> ServiceCounts:
    return ServiceCounts(
        desired=service.desired_count,
        running=sum(1 for t in live if t.last_status is TaskStatus.RUNNING),
        pending=sum(1 for t in live if t.last_status in STARTING_STATUSES),
        ready=len(ready),
    )


def _next_check(times: Iterable[float | None], now: float) -> float | None:
    later = [t for t in times if t is not None and t > now]
    return min(later) if later else None
