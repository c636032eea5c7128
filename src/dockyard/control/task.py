"""The task lifecycle: the next state from observations, and which containers to act on.

The records (:class:`Task`, :class:`ContainerRecord`, the status enums) live in
:mod:`dockyard.control.task_state` and are re-exported here, so callers import
everything about tasks from this module.

:func:`observe` is level-triggered: it looks only at the task record and the latest
observations, so calling it twice with the same inputs gives the same task, and a
missed observation costs nothing. Rules (ECS's):

* an essential container that stops stops the task (stopCode EssentialContainerExited,
  stoppedReason "Essential container in task exited"); one the engine could not start
  fails the task (TaskFailedToStart);
* a container that was created and is now gone counts as stopped, with a reason;
* a container waiting on a ``dependsOn`` condition that can no longer hold (SUCCESS of
  a container that failed, HEALTHY of one that stopped) fails the task;
* the task is RUNNING once every essential container runs, PENDING while some
  container exists, STOPPING while a stop is under way, STOPPED when nothing runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dockyard.control.task_state import (
    CANNOT_START,
    CONTAINER_GONE,
    DONE_STATUSES,
    ESSENTIAL_EXITED,
    OOM_REASON,
    RESOURCE_INIT,
    STARTING_STATUSES,
    ContainerObservation,
    ContainerRecord,
    ContainerStatus,
    DesiredStatus,
    EngineState,
    HealthStatus,
    StopCode,
    Task,
    TaskStatus,
    engine_state,
    new_task,
    request_stop,
)

__all__ = [
    "DONE_STATUSES",
    "ESSENTIAL_EXITED",
    "STARTING_STATUSES",
    "ContainerObservation",
    "ContainerRecord",
    "ContainerStatus",
    "DesiredStatus",
    "EngineState",
    "HealthStatus",
    "StopCode",
    "Task",
    "TaskStatus",
    "abandoned_containers",
    "containers_to_start",
    "containers_to_stop",
    "engine_state",
    "kept_stop",
    "new_task",
    "observe",
    "request_stop",
]


def observe(task: Task, observed: Mapping[str, ContainerObservation | None], now: float) -> Task:
    """The task's next state given one observation per container name.

    A name missing from ``observed`` (or mapped to ``None``) means the engine has no
    such container: fine for one not created yet, a loss for one that was.
    """
    if task.is_done:
        return task
    records = tuple(_observe_container(rec, observed.get(rec.name), now) for rec in task.containers)
    task = replace(task, containers=records)
    if task.desired_status is DesiredStatus.RUNNING:
        failure = _failure(task)
        if failure is not None:
            task = request_stop(task, failure[0], failure[1], now)
    return _advance(task, now)


def _observe_container(
    record: ContainerRecord, seen: ContainerObservation | None, now: float
) -> ContainerRecord:
    if record.last_status is ContainerStatus.STOPPED:
        return record  # stopped containers are never restarted in place
    if seen is None:
        if not record.created:
            return record
        return replace(record, last_status=ContainerStatus.STOPPED, reason=CONTAINER_GONE)
    record = replace(record, container_id=seen.container_id)
    if seen.error:
        reason = (
            seen.error if seen.error.startswith(RESOURCE_INIT) else f"{CANNOT_START}: {seen.error}"
        )
        return replace(record, last_status=ContainerStatus.STOPPED, reason=reason)
    if seen.state is EngineState.CREATED:
        return record
    if seen.state is EngineState.RUNNING:
        health = seen.health or HealthStatus.UNKNOWN
        first = record.first_healthy_at
        if first is None and health is HealthStatus.HEALTHY:
            first = now
        return replace(
            record, last_status=ContainerStatus.RUNNING, health=health, first_healthy_at=first
        )
    return replace(
        record,
        last_status=ContainerStatus.STOPPED,
        exit_code=seen.exit_code,
        reason=OOM_REASON if seen.oom_killed else record.reason,
    )


def _failure(task: Task) -> tuple[StopCode, str] | None:
    for record in task.containers:
        if record.essential and record.last_status is ContainerStatus.STOPPED:
            if record.reason and record.reason.startswith((CANNOT_START, RESOURCE_INIT)):
                return StopCode.TASK_FAILED_TO_START, record.reason
            return StopCode.ESSENTIAL_CONTAINER_EXITED, ESSENTIAL_EXITED
    for record in task.containers:
        if record.created:
            continue
        for target, condition in record.depends_on:
            broken = _broken_dependency(task.container(target), condition)
            if broken:
                return StopCode.TASK_FAILED_TO_START, (
                    f"Container {record.name} cannot start: dependency {target} {broken}"
                )
    return None


def _broken_dependency(target: ContainerRecord, condition: str) -> str | None:
    """Why ``condition`` on ``target`` can never hold any more (None while it still can)."""
    if target.last_status is not ContainerStatus.STOPPED:
        return None
    if condition == "SUCCESS" and target.exit_code != 0:
        return f"exited with code {target.exit_code} (condition SUCCESS)"
    if condition == "HEALTHY" and target.first_healthy_at is None:
        return "stopped before it became healthy (condition HEALTHY)"
    if condition == "START" and not target.created:
        return "never started (condition START)"
    return None


def _advance(task: Task, now: float) -> Task:
    if task.desired_status is DesiredStatus.STOPPED:
        if any(c.created and c.last_status is not ContainerStatus.STOPPED for c in task.containers):
            return replace(task, last_status=TaskStatus.STOPPING)
        stopped = tuple(replace(c, last_status=ContainerStatus.STOPPED) for c in task.containers)
        return replace(task, containers=stopped, last_status=TaskStatus.STOPPED, stopped_at=now)
    essentials = [c for c in task.containers if c.essential]
    if all(c.last_status is ContainerStatus.RUNNING for c in essentials):
        started = task.started_at if task.started_at is not None else now
        return replace(task, last_status=TaskStatus.RUNNING, started_at=started)
    if any(c.created for c in task.containers):
        return replace(task, last_status=TaskStatus.PENDING)
    return task


def kept_stop(task: Task, stored: Task) -> Task:
    """``task`` as about to be written, with the stop request ``stored`` carries if
    ``task`` has none: a StopTask the API recorded after ``task`` was read is kept."""
    if (
        task.desired_status is DesiredStatus.RUNNING
        and stored.desired_status is DesiredStatus.STOPPED
        and stored.stop_code is not None
    ):
        when = stored.stopping_at if stored.stopping_at is not None else task.created_at
        return request_stop(task, stored.stop_code, stored.stopped_reason or "", when)
    return task


def abandoned_containers(
    task: Task, observed: Mapping[str, ContainerObservation | None]
) -> tuple[str, ...]:
    """Containers the engine holds created but never started, that the task never
    recorded: a daemon stopped (or was killed) between creating and starting them.

    Creating and starting a container is one step for the daemon, and the container's
    id is recorded right after it; a container left in the engine's ``created`` state
    that the record does not know is one nobody will ever start. It is removed and
    made again (:func:`containers_to_start` then lists it), so a daemon killed at
    that moment costs a task neither its start nor a second container.
    """
    if task.is_done:
        return ()
    return tuple(
        record.name
        for record in task.containers
        if not record.created
        and (seen := observed.get(record.name)) is not None
        and seen.state is EngineState.CREATED
        and not seen.error
    )


def containers_to_start(task: Task) -> tuple[str, ...]:
    """Containers to create and start now: not yet created, every dependsOn condition met."""
    if task.desired_status is not DesiredStatus.RUNNING or task.is_done:
        return ()
    return tuple(
        record.name
        for record in task.containers
        if not record.created
        and all(_dependency_met(task.container(t), cond) for t, cond in record.depends_on)
    )


def _dependency_met(target: ContainerRecord, condition: str) -> bool:
    if condition == "START":
        return target.created and target.last_status is not ContainerStatus.PENDING
    if condition == "COMPLETE":
        return target.created and target.last_status is ContainerStatus.STOPPED
    if condition == "SUCCESS":
        return target.last_status is ContainerStatus.STOPPED and target.exit_code == 0
    return target.first_healthy_at is not None  # HEALTHY


def containers_to_stop(task: Task, *, held: bool = False) -> tuple[str, ...]:
    """Containers to stop now (SIGTERM, then SIGKILL after their stopTimeout).

    ``held``: the task is still a load-balancer target (registered or draining); its
    containers keep running until the balancer has let go of it, so that no request
    in flight is cut.
    """
    if task.desired_status is not DesiredStatus.STOPPED or held:
        return ()
    return tuple(
        record.name
        for record in task.containers
        if record.created and record.last_status is not ContainerStatus.STOPPED
    )
