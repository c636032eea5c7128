"""The deployment circuit breaker: fail a deployment whose tasks keep failing (pure).

ECS counts a deployment's *failed task launches*: a task that could not start
(TaskFailedToStart), whose essential container exited, or that the scheduler stopped
for failed health checks or a missed startup, before it was ever healthy. A task that
reaches a healthy state resets the count to 0 (``resetOnHealthyTask``, default true).
Once the count reaches ``DeploymentCircuitBreaker.failure_threshold(desiredCount)``
(0.5 x desiredCount clamped to 3..200 by default) the deployment's ``rolloutState``
becomes FAILED with ECS's reason, and

* with ``rollback``: the most recent earlier deployment that reached COMPLETED becomes
  PRIMARY again (IN_PROGRESS, its revision and its id, so its tasks still running
  are current again and nothing of it restarts); the failed one's tasks retire;
* without, or with nothing COMPLETED to go back to: the service is *halted* on the
  failed deployment: no task is launched and no older task retired, so what served
  before keeps serving (ECS: "a deployment in FAILED state doesn't launch any new tasks").

The breaker judges only a PRIMARY deployment still IN_PROGRESS: once the service is
steady on it, the deployment is COMPLETED and later failures are ordinary replacements.
The tally lives on the :class:`~dockyard.control.deployments.Deployment` (stored with
the service), with the task ids already judged, so a task counts once however many
passes see it, and a restart of the daemon loses nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from dockyard.control import events
from dockyard.control.deployments import Deployment, RolloutState
from dockyard.control.service import ServiceState
from dockyard.control.task import DesiredStatus, StopCode, Task
from dockyard.spec.service import DeploymentCircuitBreaker

FAILED_REASON = "ECS deployment circuit breaker: tasks failed to start."

#: stop codes by which a task tells it failed to launch (the scheduler's own stops for
#: failed health checks are named by the plan: ``StopTask.failed``)
LAUNCH_FAILURES = frozenset({StopCode.TASK_FAILED_TO_START, StopCode.ESSENTIAL_CONTAINER_EXITED})


def rolling_back_reason(deployment: str) -> str:
    return f"ECS deployment circuit breaker: rolling back to deploymentId {deployment}."


def completed_reason(deployment: str) -> str:
    return f"ECS deployment {deployment} completed."


@dataclass(frozen=True)
class Judgement:
    """The breaker's verdict for one pass: what to store, and what to say."""

    deployments: tuple[Deployment, ...]
    state: ServiceState  # the scheduler's state: another revision after a rollback
    events: tuple[str, ...] = ()
    tripped: bool = False


def launch_failed(task: Task, failed_stops: Collection[str]) -> bool:
    """Did ``task`` fail to launch (judged without its health history)?"""
    if task.task_id in failed_stops:
        return True
    return task.desired_status is DesiredStatus.STOPPED and task.stop_code in LAUNCH_FAILURES


def tally(
    deployment: Deployment,
    tasks: Sequence[Task],
    *,
    failed_stops: Collection[str],
    ready: Collection[str],
    reset_on_healthy_task: bool = True,
) -> Deployment:
    """``deployment`` with this pass's failed launches counted, each task once.

    ``tasks``: the service's tasks not yet reaped; ``failed_stops``: tasks the plan stops
    for failed health; ``ready``: tasks ready for traffic now. Ids of reaped tasks are
    forgotten (a reaped task cannot be seen again).
    """
    present = {t.task_id for t in tasks}
    mine = [t for t in tasks if t.deployment == deployment.id]
    healthy = [i for i in deployment.healthy if i in present]
    newly_healthy = [t.task_id for t in mine if t.task_id in ready and t.task_id not in healthy]
    failed = 0 if newly_healthy and reset_on_healthy_task else deployment.failed_tasks
    healthy += newly_healthy
    counted = [i for i in deployment.counted if i in present]
    judged = set(counted) | set(healthy)
    new_failures = [
        t.task_id for t in mine if t.task_id not in judged and launch_failed(t, failed_stops)
    ]
    return replace(
        deployment,
        failed_tasks=failed + len(new_failures),
        counted=tuple(counted + new_failures),
        healthy=tuple(healthy),
    )


def rollback_target(earlier: Sequence[Deployment]) -> Deployment | None:
    """The most recent of ``earlier`` (oldest first) that reached COMPLETED, if any."""
    for deployment in reversed(earlier):
        if deployment.rollout_state is RolloutState.COMPLETED:
            return deployment
    return None


def judge(
    deployments: Sequence[Deployment],
    state: ServiceState,
    tasks: Sequence[Task],
    *,
    breaker: DeploymentCircuitBreaker | None,
    failed_stops: Collection[str],
    ready: Collection[str],
    steady: bool,
    now: float,
) -> Judgement:
    """Count the PRIMARY deployment's failed launches; trip the breaker at its threshold.

    ``steady``: this pass's verdict (the service runs desiredCount ready tasks of the
    PRIMARY deployment): the deployment is COMPLETED and the breaker stops watching it.
    """
    unchanged = Judgement(tuple(deployments), state)
    if not deployments or deployments[-1].id != state.deployment:
        return unchanged
    primary = deployments[-1]
    if primary.rollout_state is not RolloutState.IN_PROGRESS:
        return unchanged
    earlier = tuple(deployments[:-1])
    if steady:
        done = replace(
            primary,
            rollout_state=RolloutState.COMPLETED,
            rollout_state_reason=completed_reason(primary.id),
            counted=(),
            healthy=(),
        )
        return Judgement((*earlier, done), state)
    counted = tally(
        primary,
        tasks,
        failed_stops=failed_stops,
        ready=ready,
        reset_on_healthy_task=breaker is None or breaker.reset_on_healthy_task,
    )
    threshold = breaker.failure_threshold(state.desired_count) if breaker else 0
    if breaker is None or not breaker.enable or counted.failed_tasks < max(threshold, 1):
        return Judgement((*earlier, counted), state)
    failed = replace(
        counted,
        rollout_state=RolloutState.FAILED,
        rollout_state_reason=FAILED_REASON,
        updated_at=now,
    )
    said = [events.deployment_failed(state.name, primary.id)]
    target = rollback_target(earlier) if breaker.rollback else None
    if target is None:
        halted = replace(state, halted=True, steady=False)
        return Judgement((*earlier, failed), halted, tuple(said), tripped=True)
    back = replace(
        target,
        rollout_state=RolloutState.IN_PROGRESS,
        rollout_state_reason=rolling_back_reason(target.id),
        updated_at=now,
        failed_tasks=0,
        counted=(),
        healthy=(),
    )
    said.append(events.rolling_back(state.name, target.id))
    rest = tuple(d for d in earlier if d.id != target.id)
    rolled = replace(
        state, revision=target.revision, deployment=target.id, steady=False, halted=False
    )
    return Judgement((*rest, failed, back), rolled, tuple(said), tripped=True)
