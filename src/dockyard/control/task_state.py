"""What a task is: ECS's task and container records, statuses and stop codes.

A :class:`Task` is one run of a task definition: its containers, their last known
state, and the task's ``lastStatus`` / ``desiredStatus``. The server owns the I/O:

1. it asks the engine about the task's containers and fills one
   :class:`ContainerObservation` per container (``None`` when the container is gone);
2. :func:`dockyard.control.task.observe` derives the task's next state from those observations;
3. :func:`~dockyard.control.task.containers_to_start` / ``containers_to_stop`` say what to do next
   (start containers whose ``dependsOn`` conditions hold; stop containers of a task
   that should stop); the results show up in the next observation.

Dockyard walks PROVISIONING → PENDING → RUNNING → STOPPING → STOPPED; the other
ECS states (ACTIVATING, DEACTIVATING, DEPROVISIONING, DELETED) exist so records
read like ECS's but are not entered. Wording of reasons is ECS's where it has one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from dockyard.spec.task_definition import TaskDefinition

ESSENTIAL_EXITED = "Essential container in task exited"
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
CANNOT_START = "CannotStartContainerError"
#: ECS's reason when what a task needs before it runs (its secrets) cannot be had;
#: such a start error is kept as written rather than prefixed with CANNOT_START
RESOURCE_INIT = "ResourceInitializationError"
CONTAINER_GONE = "Container no longer exists: it was removed outside Dockyard"


class TaskStatus(StrEnum):
    """A task's ``lastStatus`` (ECS's lifecycle, in order)."""

    PROVISIONING = "PROVISIONING"
    PENDING = "PENDING"
    ACTIVATING = "ACTIVATING"
    RUNNING = "RUNNING"
    DEACTIVATING = "DEACTIVATING"
    STOPPING = "STOPPING"
    DEPROVISIONING = "DEPROVISIONING"
    STOPPED = "STOPPED"
    DELETED = "DELETED"


STARTING_STATUSES = frozenset({TaskStatus.PROVISIONING, TaskStatus.PENDING, TaskStatus.ACTIVATING})
DONE_STATUSES = frozenset({TaskStatus.STOPPED, TaskStatus.DELETED})


class DesiredStatus(StrEnum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class StopCode(StrEnum):
    """Why a task stopped (botocore ``TaskStopCode``)."""

    TASK_FAILED_TO_START = "TaskFailedToStart"
    ESSENTIAL_CONTAINER_EXITED = "EssentialContainerExited"
    USER_INITIATED = "UserInitiated"
    SERVICE_SCHEDULER_INITIATED = "ServiceSchedulerInitiated"
    SPOT_INTERRUPTION = "SpotInterruption"
    TERMINATION_NOTICE = "TerminationNotice"
    INFRASTRUCTURE_HEALTH = "InfrastructureHealth"


class HealthStatus(StrEnum):
    """Health of a container, a task or a load-balancer target (botocore ``HealthStatus``)."""

    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    UNKNOWN = "UNKNOWN"


class ContainerStatus(StrEnum):
    """A container's ``lastStatus`` inside a task."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


class EngineState(StrEnum):
    """What an engine says about a container, reduced to what the lifecycle needs."""

    CREATED = "CREATED"
    RUNNING = "RUNNING"
    EXITED = "EXITED"


_ENGINE_STATES = {
    "created": EngineState.CREATED,
    "running": EngineState.RUNNING,
    "paused": EngineState.RUNNING,
    "restarting": EngineState.RUNNING,
    "exited": EngineState.EXITED,
    "dead": EngineState.EXITED,
    "removing": EngineState.EXITED,
}


def engine_state(status: str) -> EngineState:
    """Map a Docker-API container status (``"running"``, ``"exited"``...) to its state."""
    try:
        return _ENGINE_STATES[status]
    except KeyError:
        raise ValueError(f"unknown container status {status!r}") from None


@dataclass(frozen=True)
class ContainerObservation:
    """One look at one container, filled by the server from its engine (or Kubernetes).

    ``health`` is ``None`` when the container has no health check; ``error`` is the
    engine's reason when it could not create or start the container.
    """

    state: EngineState
    container_id: str
    exit_code: int | None = None
    oom_killed: bool = False
    health: HealthStatus | None = None
    error: str = ""


@dataclass(frozen=True)
class ContainerRecord:
    """A container of a task as the task remembers it (ECS's ``containers[]``)."""

    name: str
    essential: bool = True
    has_health_check: bool = False
    depends_on: tuple[tuple[str, str], ...] = ()  # (containerName, condition)
    container_id: str | None = None
    last_status: ContainerStatus = ContainerStatus.PENDING
    exit_code: int | None = None
    reason: str | None = None
    health: HealthStatus = HealthStatus.UNKNOWN
    first_healthy_at: float | None = None

    @property
    def created(self) -> bool:
        return self.container_id is not None


@dataclass(frozen=True)
class Task:
    """One run of a task definition revision (``revision`` is ``family:N``)."""

    task_id: str
    revision: str
    containers: tuple[ContainerRecord, ...]
    created_at: float
    last_status: TaskStatus = TaskStatus.PROVISIONING
    desired_status: DesiredStatus = DesiredStatus.RUNNING
    started_by: str | None = None
    #: the service deployment that started it ("" for tasks started otherwise): a forced
    #: new deployment replaces a service's tasks although their revision stays the same
    deployment: str = ""
    started_at: float | None = None
    stopping_at: float | None = None
    stopped_at: float | None = None
    stop_code: StopCode | None = None
    stopped_reason: str | None = None

    @property
    def is_done(self) -> bool:
        """True once the task reached STOPPED (nothing of it runs any more)."""
        return self.last_status in DONE_STATUSES

    @property
    def is_stopping(self) -> bool:
        """True when the task should stop but has not finished stopping."""
        return self.desired_status is DesiredStatus.STOPPED and not self.is_done

    def container(self, name: str) -> ContainerRecord:
        for record in self.containers:
            if record.name == name:
                return record
        raise KeyError(f"task {self.task_id} has no container {name!r}")

    @property
    def health_checked(self) -> bool:
        """True when at least one essential container has a health check."""
        return any(c.essential and c.has_health_check for c in self.containers)

    @property
    def health_status(self) -> HealthStatus:
        """ECS's task health: from essential containers with health checks (UNKNOWN if none)."""
        checked = [c.health for c in self.containers if c.essential and c.has_health_check]
        if not checked:
            return HealthStatus.UNKNOWN
        if HealthStatus.UNHEALTHY in checked:
            return HealthStatus.UNHEALTHY
        if all(health is HealthStatus.HEALTHY for health in checked):
            return HealthStatus.HEALTHY
        return HealthStatus.UNKNOWN

    @property
    def first_healthy_at(self) -> float | None:
        """When every checked essential container had passed its check at least once."""
        times = [c.first_healthy_at for c in self.containers if c.essential and c.has_health_check]
        if not times or any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    def exit_code(self) -> int | None:
        """Exit code of the first essential container that stopped (a job's result)."""
        for record in self.containers:
            if record.essential and record.last_status is ContainerStatus.STOPPED:
                return record.exit_code
        return None


def new_task(
    task_id: str,
    definition: TaskDefinition,
    revision: str,
    now: float,
    *,
    started_by: str | None = None,
    deployment: str = "",
) -> Task:
    """A task about to start: PROVISIONING, no container created yet."""
    records = tuple(
        ContainerRecord(
            name=container.name,
            essential=container.essential,
            has_health_check=container.health_check is not None,
            depends_on=tuple((d.container_name, d.condition) for d in container.depends_on),
        )
        for container in definition.container_definitions
    )
    return Task(
        task_id=task_id,
        revision=revision,
        containers=records,
        created_at=now,
        started_by=started_by,
        deployment=deployment,
    )


def request_stop(task: Task, code: StopCode, reason: str, now: float) -> Task:
    """Ask the task to stop; the first stop request's code and reason are the ones kept."""
    if task.desired_status is DesiredStatus.STOPPED or task.is_done:
        return task
    return replace(
        task,
        desired_status=DesiredStatus.STOPPED,
        stop_code=code,
        stopped_reason=reason,
        stopping_at=task.stopping_at if task.stopping_at is not None else now,
    )


def stopped(task: Task, code: StopCode, reason: str, now: float) -> Task:
    """The task as STOPPED now, for a runtime that reports only that it ended (a
    cluster's Job): its containers stopped, and the first stop's code and reason kept
    (a user's stop stays the user's)."""
    if task.is_done:
        return task
    asked = request_stop(task, code, reason, now)
    return replace(
        asked,
        containers=tuple(replace(c, last_status=ContainerStatus.STOPPED) for c in task.containers),
        last_status=TaskStatus.STOPPED,
        stopped_at=now,
    )
