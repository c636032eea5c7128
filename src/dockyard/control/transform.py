"""The batch transform job controller: replicas as tasks, a driver, a status (pure).

A transform job runs ``InstanceCount`` replicas of the model's inference container as
run-to-completion tasks (the run facility's, like training hosts) and a driver in the
daemon that feeds them the input's records. :func:`plan_transform` takes the job's
stored state and what the server observed and returns the next state and actions;
level-triggered like the training controller, so a restarted daemon resumes where the
store says the job is.

The path of a job (DescribeTransformJob's ``TransformJobStatus``)::

    InProgress: LaunchReplica each replica-1..K; RunDriver (the driver waits for
      /ping, reads /execution-parameters, sends the records); a replica whose task
      ended is replaced (ReplaceReplica) and the driver carries on with the others
      -> the driver finished: Completed, or Failed naming the files and records that
      failed; the replicas are stopped
    a replica could not be kept up (replaced more than MAX_REPLACEMENTS times), or
      the driver could not run at all: Failed with that reason
    StopTransformJob: Stopping (HaltDriver, StopReplica each) -> Stopped once every
      replica has stopped
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from dockyard.control.runs import run_outcome
from dockyard.control.task import StopCode, Task

MAX_REPLACEMENTS = 5  # per replica slot: a model that keeps dying fails the job
FAILURE_REASON_MAX = 1024
USER_STOP_REASON = "Transform job stopped by user (StopTransformJob)"
FINISHED_REASON = "Transform job finished"


class TransformJobStatus(StrEnum):
    """botocore ``TransformJobStatus``."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


TERMINAL = frozenset(
    {TransformJobStatus.COMPLETED, TransformJobStatus.FAILED, TransformJobStatus.STOPPED}
)


@dataclass(frozen=True)
class TransformJobState:
    status: TransformJobStatus
    created_at: float
    last_modified_at: float
    started_at: float | None = None  # TransformStartTime: a replica first ran
    ended_at: float | None = None  # TransformEndTime
    failure_reason: str | None = None
    replacements: Mapping[str, int] = field(default_factory=dict)  # replica -> times replaced

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


def new_transform_job(now: float) -> TransformJobState:
    return TransformJobState(TransformJobStatus.IN_PROGRESS, now, now)


@dataclass(frozen=True)
class TransformObservation:
    """What the server saw this pass.

    ``replicas``: each replica's task (missing or None: not launched yet).
    ``driver_finished``: every input file is Completed or Failed; ``failures`` then
    says which failed and why (empty: the job completed).
    ``driver_error``: the driver cannot run the job at all (bad execution parameters,
    unreadable input); the job fails with it.
    """

    replicas: Mapping[str, Task | None] = field(default_factory=dict)
    stop_requested: bool = False
    driver_finished: bool = False
    failures: tuple[str, ...] = ()
    driver_error: str | None = None


@dataclass(frozen=True)
class LaunchReplica:
    replica: str


@dataclass(frozen=True)
class ReplaceReplica:
    """The replica's task ended while the job needs it: reap it and launch another."""

    replica: str


@dataclass(frozen=True)
class StopReplica:
    replica: str
    reason: str
    stop_code: StopCode = StopCode.SERVICE_SCHEDULER_INITIATED


@dataclass(frozen=True)
class RunDriver:
    """The driver should be running (started if it is not)."""


@dataclass(frozen=True)
class HaltDriver:
    """The driver stops sending; what it wrote so far stays checkpointed."""


TransformAction = LaunchReplica | ReplaceReplica | StopReplica | RunDriver | HaltDriver


@dataclass(frozen=True)
class TransformPlan:
    state: TransformJobState
    actions: tuple[TransformAction, ...] = ()
    done: bool = False  # terminal with every replica stopped: reap and forget


def replica_names(count: int) -> tuple[str, ...]:
    return tuple(f"replica-{index}" for index in range(1, count + 1))


def plan_transform(
    replicas: tuple[str, ...],
    state: TransformJobState,
    observed: TransformObservation,
    now: float,
) -> TransformPlan:
    """The job's next state and the actions that move it along."""
    tasks = {name: observed.replicas.get(name) for name in replicas}
    if state.status is TransformJobStatus.IN_PROGRESS:
        state = _judge(state, observed, tasks, now)
    if state.status is TransformJobStatus.IN_PROGRESS:
        return _plan_running(state, tasks, now)
    user = state.status in (TransformJobStatus.STOPPING, TransformJobStatus.STOPPED)
    reason, code = (
        (USER_STOP_REASON, StopCode.USER_INITIATED)
        if user
        else (FINISHED_REASON, StopCode.SERVICE_SCHEDULER_INITIATED)
    )
    stops = tuple(
        StopReplica(name, reason, code)
        for name, task in tasks.items()
        if task is not None and not task.is_done and not task.is_stopping
    )
    settled = all(task is None or task.is_done for task in tasks.values())
    if state.status is TransformJobStatus.STOPPING and settled:
        state = _end(state, TransformJobStatus.STOPPED, now)
    actions: tuple[TransformAction, ...] = (HaltDriver(), *stops)
    return TransformPlan(state, actions, done=state.is_terminal and settled)


def _judge(
    state: TransformJobState,
    observed: TransformObservation,
    tasks: Mapping[str, Task | None],
    now: float,
) -> TransformJobState:
    """A stop, a failure or the end, in that order of precedence."""
    if observed.stop_requested:
        return replace(state, status=TransformJobStatus.STOPPING, last_modified_at=now)
    reason = observed.driver_error or _lost_replica(state, tasks)
    if reason is None and observed.driver_finished and observed.failures:
        reason = _failed_files(observed.failures)
    if reason is not None:
        failed = _end(state, TransformJobStatus.FAILED, now)
        return replace(failed, failure_reason=reason[:FAILURE_REASON_MAX])
    if observed.driver_finished:
        return _end(state, TransformJobStatus.COMPLETED, now)
    return state


def _end(state: TransformJobState, status: TransformJobStatus, now: float) -> TransformJobState:
    return replace(state, status=status, ended_at=now, last_modified_at=now)


def _lost_replica(state: TransformJobState, tasks: Mapping[str, Task | None]) -> str | None:
    for name, task in tasks.items():
        if (
            task is not None
            and task.is_done
            and state.replacements.get(name, 0) >= MAX_REPLACEMENTS
        ):
            outcome = run_outcome(task)
            return (
                f"ClientError: the model container of {name} {outcome.reason or 'stopped'} "
                f"and was replaced {MAX_REPLACEMENTS} times; see the job's logs"
            )
    return None


def _failed_files(failures: tuple[str, ...]) -> str:
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return f"ClientError: {failures[0]}{more}"


def _plan_running(
    state: TransformJobState, tasks: Mapping[str, Task | None], now: float
) -> TransformPlan:
    actions: list[TransformAction] = []
    replacements = dict(state.replacements)
    for name, task in tasks.items():
        if task is None:
            actions.append(LaunchReplica(name))
        elif task.is_done:
            actions.append(ReplaceReplica(name))
            replacements[name] = replacements.get(name, 0) + 1
    running = any(t is not None and t.started_at is not None for t in tasks.values())
    if state.started_at is None and running:
        state = replace(state, started_at=now, last_modified_at=now)
    if replacements != dict(state.replacements):
        state = replace(state, replacements=replacements, last_modified_at=now)
    actions.append(RunDriver())
    return TransformPlan(state, tuple(actions))
