"""What a service plan asks the server to do, and what it reports back.

Actions are plain values; the server executes them in the order given:

* :class:`StartTask` — create a task of ``revision`` for the service (the server picks
  the task id, labels the containers ``dockyard.service=<name>``, and records the
  event ``events.started(...)`` once it knows the ids);
* :class:`StopTask` — ``request_stop`` the task with ``stop_code`` and ``reason``;
  ``failed`` marks stops for failing health or startup (what a deployment circuit
  breaker counts), as opposed to scale-in and rollout;
* :class:`RegisterTarget` / :class:`DeregisterTarget` — add the task's address to /
  start draining it from the route ``target_group`` of the load balancer (first in a
  plan, so new targets join before old ones leave); the server notes when draining
  began (:attr:`ReplicaHealth.drain_started_at`);
* :class:`RemoveTarget` — take a drained target out for good: its requests in flight
  have finished, or its deregistration delay is over.

A stopped task's containers keep running while it is still a target (registered or
draining): the SIGTERM comes once the load balancer has let go of it, so no request
is cut by a rollout or a scale-in.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.control.task import StopCode


@dataclass(frozen=True)
class StartTask:
    revision: str
    deployment: str = ""  # the service's deployment the task belongs to


@dataclass(frozen=True)
class StopTask:
    task_id: str
    reason: str
    stop_code: StopCode = StopCode.SERVICE_SCHEDULER_INITIATED
    failed: bool = False


@dataclass(frozen=True)
class RegisterTarget:
    task_id: str
    target_group: str


@dataclass(frozen=True)
class DeregisterTarget:
    task_id: str
    target_group: str


@dataclass(frozen=True)
class RemoveTarget:
    task_id: str
    target_group: str


ServiceAction = StartTask | StopTask | RegisterTarget | DeregisterTarget | RemoveTarget


@dataclass(frozen=True)
class ServiceCounts:
    """ECS's counters for DescribeServices, plus how many tasks are ready for traffic."""

    desired: int
    running: int
    pending: int
    ready: int


@dataclass(frozen=True)
class ServicePlan:
    """The scheduler's decision for one pass.

    ``events`` are ECS-worded service events to record; ``steady`` is true when the
    service needs nothing and runs exactly desiredCount ready tasks of its revision
    (store it and pass it back as ``ServiceState.steady``: the steady-state event is
    emitted only when this turns true); ``next_check_at`` is the earliest time at which
    the plan may change by the clock alone (a grace period or startup timeout ending);
    ``blocked_reason`` says why a deployment cannot make progress at all (its
    minimumHealthyPercent and maximumPercent leave no move), for DescribeServices and
    for one event when it first appears; ``ready`` names the tasks ready for traffic
    now (what a deployment circuit breaker counts as healthy).
    """

    actions: tuple[ServiceAction, ...]
    events: tuple[str, ...]
    steady: bool
    counts: ServiceCounts
    next_check_at: float | None = None
    blocked_reason: str | None = None
    ready: tuple[str, ...] = ()

    @property
    def starts(self) -> tuple[StartTask, ...]:
        return tuple(a for a in self.actions if isinstance(a, StartTask))

    @property
    def stops(self) -> tuple[StopTask, ...]:
        return tuple(a for a in self.actions if isinstance(a, StopTask))

    @property
    def registers(self) -> tuple[RegisterTarget, ...]:
        return tuple(a for a in self.actions if isinstance(a, RegisterTarget))

    @property
    def deregisters(self) -> tuple[DeregisterTarget, ...]:
        return tuple(a for a in self.actions if isinstance(a, DeregisterTarget))

    @property
    def removals(self) -> tuple[RemoveTarget, ...]:
        return tuple(a for a in self.actions if isinstance(a, RemoveTarget))
