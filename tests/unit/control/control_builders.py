"""Builders for control tests: tasks in a given state, and a tiny simulated world.

The world applies a plan's actions the way the server would (start → a PENDING task,
stop → request_stop, register → registered) and advances time one tick at a time
(PENDING → RUNNING, STOPPING → STOPPED, RUNNING → healthy if its revision is good).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dockyard.control.readiness import ReplicaHealth
from dockyard.control.service import ServiceState
from dockyard.control.service_actions import (
    DeregisterTarget,
    RegisterTarget,
    ServicePlan,
    StartTask,
    StopTask,
)
from dockyard.control.task import (
    ContainerRecord,
    ContainerStatus,
    DesiredStatus,
    HealthStatus,
    StopCode,
    Task,
    TaskStatus,
    request_stop,
)


def make_task(
    task_id: str = "t1",
    revision: str = "web:1",
    *,
    status: TaskStatus = TaskStatus.RUNNING,
    created: float = 0.0,
    started: float | None = None,
    check: HealthStatus | None = None,
    first_healthy: float | None = None,
    desired: DesiredStatus = DesiredStatus.RUNNING,
) -> Task:
    """A one-container task; ``check`` is its container health (None: no health check)."""
    running = status is TaskStatus.RUNNING
    container = ContainerRecord(
        name="app",
        has_health_check=check is not None,
        container_id=None if status is TaskStatus.PROVISIONING else f"c-{task_id}",
        last_status=ContainerStatus.RUNNING if running else ContainerStatus.PENDING,
        health=check or HealthStatus.UNKNOWN,
        first_healthy_at=first_healthy
        if first_healthy is not None
        else (created if check is HealthStatus.HEALTHY else None),
    )
    if status is TaskStatus.STOPPED:
        container = replace(container, last_status=ContainerStatus.STOPPED, exit_code=1)
    return Task(
        task_id=task_id,
        revision=revision,
        containers=(container,),
        created_at=created,
        last_status=status,
        desired_status=DesiredStatus.STOPPED if status is TaskStatus.STOPPED else desired,
        started_at=started if started is not None else (created if running else None),
    )


def lb(
    status: HealthStatus = HealthStatus.HEALTHY,
    *,
    first: float | None = 0.0,
    registered: bool = False,
) -> ReplicaHealth:
    if status is not HealthStatus.HEALTHY and first == 0.0:
        first = None
    return ReplicaHealth(status=status, first_healthy_at=first, registered=registered)


def svc(**overrides: object) -> ServiceState:
    values: dict[str, object] = {"name": "web", "revision": "web:2", "desired_count": 2}
    values.update(overrides)
    return ServiceState(**values)  # type: ignore[arg-type]


@dataclass
class World:
    """A service's tasks and load balancer, advanced by applying plans."""

    service: ServiceState
    tasks: dict[str, Task] = field(default_factory=dict)
    health: dict[str, ReplicaHealth] = field(default_factory=dict)
    bad_revisions: frozenset[str] = frozenset()
    now: float = 0.0
    counter: int = 0
    history: list[ServicePlan] = field(default_factory=list)

    def add(self, task: Task, health: ReplicaHealth | None = None) -> None:
        self.tasks[task.task_id] = task
        if health is not None:
            self.health[task.task_id] = health

    def apply(self, plan: ServicePlan) -> None:
        for action in plan.actions:
            if isinstance(action, StartTask):
                self.counter += 1
                task_id = f"n{self.counter}"
                self.tasks[task_id] = make_task(
                    task_id, action.revision, status=TaskStatus.PENDING, created=self.now
                )
            elif isinstance(action, StopTask):
                task = self.tasks[action.task_id]
                self.tasks[action.task_id] = request_stop(
                    task, action.stop_code, action.reason, self.now
                )
            elif isinstance(action, RegisterTarget):
                self.health[action.task_id] = replace(self.health[action.task_id], registered=True)
            elif isinstance(action, DeregisterTarget):
                entry = self.health.get(action.task_id, ReplicaHealth())
                self.health[action.task_id] = replace(entry, registered=False)
        self.service = replace(self.service, steady=plan.steady)

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds
        for task_id, task in list(self.tasks.items()):
            self.tasks[task_id] = self._advance(task)
            if self.service.target_group and self.tasks[task_id].last_status is TaskStatus.RUNNING:
                self._check(task_id)

    def _advance(self, task: Task) -> Task:
        if task.desired_status is DesiredStatus.STOPPED and not task.is_done:
            return replace(task, last_status=TaskStatus.STOPPED, stopped_at=self.now)
        if task.last_status in (TaskStatus.PROVISIONING, TaskStatus.PENDING):
            return replace(task, last_status=TaskStatus.RUNNING, started_at=self.now)
        if task.last_status is TaskStatus.RUNNING and task.revision not in self.bad_revisions:
            return replace(task, containers=tuple(self._healthy(c) for c in task.containers))
        return task

    def _healthy(self, container: ContainerRecord) -> ContainerRecord:
        if not container.has_health_check or container.health is HealthStatus.HEALTHY:
            return container
        first = container.first_healthy_at if container.first_healthy_at is not None else self.now
        return replace(container, health=HealthStatus.HEALTHY, first_healthy_at=first)

    def _check(self, task_id: str) -> None:
        entry = self.health.get(task_id, ReplicaHealth())
        if self.tasks[task_id].revision in self.bad_revisions:
            self.health[task_id] = replace(entry, status=HealthStatus.UNHEALTHY)
        else:
            first = entry.first_healthy_at if entry.first_healthy_at is not None else self.now
            self.health[task_id] = replace(
                entry, status=HealthStatus.HEALTHY, first_healthy_at=first
            )

    def live(self) -> list[Task]:
        return [t for t in self.tasks.values() if not t.is_done]

    def in_use(self) -> int:
        return len(self.live())


def stop_code_of(plan: ServicePlan) -> set[StopCode]:
    return {stop.stop_code for stop in plan.stops}
