"""The training job controller: one task per host, run to completion (pure).

:func:`plan_training` takes the job's stored state, what the server observed (one
:class:`~dockyard.control.task.Task` per host, whether inputs are staged and artifacts
uploaded, whether a stop was requested) and the time; it returns the next state and
the actions to execute. Level-triggered like the service scheduler: the same inputs
give the same plan, and actions repeat until their effect is observed.

The path of a job (SageMaker's statuses, secondary status in brackets)::

    InProgress [Starting] -> [Downloading] (PrepareInputs) -> LaunchHost each host
      -> [Training] once a host runs -> all exit 0: [Uploading] (UploadArtifacts)
      -> Completed [Completed]
    a host fails (non-zero exit, could not start): Failed [Failed], FailureReason =
      the first failed host's /opt/ml/output/failure (first 1024 characters), or a
      description of its exit; the other hosts are stopped
    StopTrainingJob, or MaxRuntimeInSeconds since training started:
      Stopping [Stopping] (StopHost each) -> [Uploading] -> Stopped [Stopped] or
      Stopped [MaxRuntimeExceeded] (botocore lists MaxRuntimeExceeded under Stopped);
      exit codes after the stop do not turn the job Failed

With a CheckpointConfig, :class:`SaveCheckpoints` copies what the hosts wrote to their
checkpoint directories to ``S3Uri``: every ``checkpoint_save_s`` while training, and
once more (``final``) after every host has ended, whatever the ending (completed,
failed or stopped), before the job is done. Restoring them (``S3Uri`` into each host's
directory) is part of PrepareInputs, so a rerun with the same CheckpointConfig resumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from dockyard.control.runs import RunStatus, run_outcome
from dockyard.control.task import StopCode, Task
from dockyard.control.training_status import (
    SecondaryStatus,
    StopCause,
    TrainingJobState,
    TrainingJobStatus,
    enter,
)
from dockyard.spec.names import host_order

FAILURE_REASON_MAX = 1024
USER_STOP_REASON = "Training job stopped by user (StopTrainingJob)"
MAX_RUNTIME_REASON = "Training job exceeded MaxRuntimeInSeconds"
PEER_FAILED_REASON = "Another host of the training job failed"


@dataclass(frozen=True)
class TrainingJobSummary:
    """The parts of a job's spec the controller needs."""

    hosts: tuple[str, ...]  # algo-1 … algo-N
    max_runtime_s: float
    checkpoint_save_s: float | None = None  # None: the job has no CheckpointConfig


@dataclass(frozen=True)
class TrainingObservation:
    """What the server saw this pass.

    ``hosts``: each host's task (missing or ``None``: not launched yet).
    ``inputs_ready``: channel data and config files are staged for every host.
    ``artifacts_uploaded``: model.tar.gz (and output.tar.gz) are at the output path.
    ``stop_requested``: StopTrainingJob was called.
    ``failure_texts``: per host, the contents of /opt/ml/output/failure, if any.
    ``platform_error``: a step the server runs (staging inputs, uploading) failed for
    good; the job fails with this text as its FailureReason.
    ``checkpoints_saved_at``: when checkpoints were last saved to S3Uri (None: never).
    ``checkpoints_final``: the save after every host ended has been done.
    """

    hosts: Mapping[str, Task | None] = field(default_factory=dict)
    inputs_ready: bool = False
    artifacts_uploaded: bool = False
    stop_requested: bool = False
    failure_texts: Mapping[str, str] = field(default_factory=dict)
    platform_error: str | None = None
    checkpoints_saved_at: float | None = None
    checkpoints_final: bool = False


@dataclass(frozen=True)
class PrepareInputs:
    """Stage every channel's data and the config files (/opt/ml/input/...) for all hosts."""


@dataclass(frozen=True)
class LaunchHost:
    host: str


@dataclass(frozen=True)
class StopHost:
    host: str
    reason: str
    stop_code: StopCode = StopCode.SERVICE_SCHEDULER_INITIATED


@dataclass(frozen=True)
class UploadArtifacts:
    """Pack /opt/ml/model into model.tar.gz (and output/data) and write it to the output path."""


@dataclass(frozen=True)
class SaveCheckpoints:
    """Copy new or changed files of every host's checkpoint directory to S3Uri.

    ``final``: every host has ended; this is the last save of the job.
    """

    final: bool = False


TrainingAction = PrepareInputs | LaunchHost | StopHost | UploadArtifacts | SaveCheckpoints


@dataclass(frozen=True)
class TrainingPlan:
    """The next state and actions; ``done`` once terminal with every host stopped
    (the server may then remove the job's network and scratch directories)."""

    state: TrainingJobState
    actions: tuple[TrainingAction, ...] = ()
    done: bool = False
    next_check_at: float | None = None


def plan_training(
    job: TrainingJobSummary, state: TrainingJobState, observed: TrainingObservation, now: float
) -> TrainingPlan:
    """The job's next state and the actions that move it along."""
    tasks = {host: observed.hosts.get(host) for host in job.hosts}
    if state.status is TrainingJobStatus.IN_PROGRESS:
        state = _check_interruptions(job, state, observed, tasks, now)
    if state.is_terminal:
        stops = _stop_hosts(tasks, PEER_FAILED_REASON, StopCode.SERVICE_SCHEDULER_INITIATED)
        finished = all(t is None or t.is_done for t in tasks.values())
        if finished and not stops:
            last = _final_save(job, observed, tasks)
            return TrainingPlan(state, last, done=not last)
        return TrainingPlan(state, tuple(stops))
    if state.status is TrainingJobStatus.STOPPING:
        return _plan_stopping(job, state, observed, tasks, now)
    return _plan_running(job, state, observed, tasks, now)


def _deadline(job: TrainingJobSummary, state: TrainingJobState) -> float:
    """MaxRuntimeInSeconds counts from TrainingStartTime (from creation before that)."""
    start = state.training_started_at if state.training_started_at is not None else state.created_at
    return start + job.max_runtime_s


def _check_interruptions(
    job: TrainingJobSummary,
    state: TrainingJobState,
    observed: TrainingObservation,
    tasks: Mapping[str, Task | None],
    now: float,
) -> TrainingJobState:
    """A stop request, the runtime limit or a failure, in that order of precedence."""
    if observed.stop_requested:
        return _begin_stop(state, StopCause.USER, now)
    if now >= _deadline(job, state):
        return _begin_stop(state, StopCause.MAX_RUNTIME, now)
    reason = observed.platform_error or _failure_reason(tasks, observed.failure_texts)
    if reason is None:
        return state
    failed = enter(state, SecondaryStatus.FAILED, now, status=TrainingJobStatus.FAILED)
    return replace(failed, failure_reason=reason[:FAILURE_REASON_MAX], training_ended_at=now)


def _begin_stop(state: TrainingJobState, cause: StopCause, now: float) -> TrainingJobState:
    stopping = enter(state, SecondaryStatus.STOPPING, now, status=TrainingJobStatus.STOPPING)
    return replace(stopping, stop_cause=cause)


def _failure_reason(tasks: Mapping[str, Task | None], texts: Mapping[str, str]) -> str | None:
    outcomes = {host: run_outcome(task) for host, task in tasks.items() if task is not None}
    failed = [
        (task.stopped_at or 0.0, host_order(host), host)
        for host, task in tasks.items()
        if task is not None and outcomes[host].status is RunStatus.FAILED
    ]
    if not failed:
        return None
    _, _, host = min(failed)
    text = texts.get(host, "").strip()
    if text:
        return text
    outcome = outcomes[host]
    if outcome.exit_code is None:
        return f"AlgorithmError: {host}: {outcome.reason}"
    return (
        f"AlgorithmError: the training container on {host} {outcome.reason}; "
        "see the job's logs for details"
    )


def _final_save(
    job: TrainingJobSummary, observed: TrainingObservation, tasks: Mapping[str, Task | None]
) -> tuple[SaveCheckpoints, ...]:
    """The last save, due once every host has ended (none if no host ever ran)."""
    ran = any(t is not None for t in tasks.values())
    if job.checkpoint_save_s is None or observed.checkpoints_final or not ran:
        return ()
    return (SaveCheckpoints(final=True),)


def _periodic_save(
    job: TrainingJobSummary, state: TrainingJobState, observed: TrainingObservation, now: float
) -> tuple[tuple[SaveCheckpoints, ...], float | None]:
    """A save while training, when one is due; and when the next one is."""
    if job.checkpoint_save_s is None or state.training_started_at is None:
        return (), None
    last = observed.checkpoints_saved_at
    due = max(last, state.training_started_at) if last is not None else state.training_started_at
    due += job.checkpoint_save_s
    if now >= due:
        return (SaveCheckpoints(),), now + job.checkpoint_save_s
    return (), due


def _stop_hosts(tasks: Mapping[str, Task | None], reason: str, code: StopCode) -> list[StopHost]:
    return [
        StopHost(host, reason, code)
        for host, task in tasks.items()
        if task is not None and not task.is_done and not task.is_stopping
    ]


def _plan_stopping(
    job: TrainingJobSummary,
    state: TrainingJobState,
    observed: TrainingObservation,
    tasks: Mapping[str, Task | None],
    now: float,
) -> TrainingPlan:
    user = state.stop_cause is StopCause.USER
    reason = USER_STOP_REASON if user else MAX_RUNTIME_REASON
    code = StopCode.USER_INITIATED if user else StopCode.SERVICE_SCHEDULER_INITIATED
    stops = _stop_hosts(tasks, reason, code)
    if stops or any(t is not None and not t.is_done for t in tasks.values()):
        return TrainingPlan(state, tuple(stops))
    ran = any(t is not None for t in tasks.values())
    uploads = _uploads(job, observed, tasks) if ran else ()
    if uploads:
        return TrainingPlan(enter(state, SecondaryStatus.UPLOADING, now), uploads)
    final = SecondaryStatus.STOPPED if user else SecondaryStatus.MAX_RUNTIME_EXCEEDED
    stopped = enter(state, final, now, status=TrainingJobStatus.STOPPED)
    return TrainingPlan(replace(stopped, training_ended_at=now), done=True)


def _uploads(
    job: TrainingJobSummary, observed: TrainingObservation, tasks: Mapping[str, Task | None]
) -> tuple[TrainingAction, ...]:
    """What is left to upload once every host has ended: artifacts, the last checkpoints."""
    artifacts: tuple[TrainingAction, ...] = (
        () if observed.artifacts_uploaded else (UploadArtifacts(),)
    )
    return artifacts + _final_save(job, observed, tasks)


def _plan_running(
    job: TrainingJobSummary,
    state: TrainingJobState,
    observed: TrainingObservation,
    tasks: Mapping[str, Task | None],
    now: float,
) -> TrainingPlan:
    if not observed.inputs_ready:
        state = enter(state, SecondaryStatus.DOWNLOADING, now)
        return TrainingPlan(state, (PrepareInputs(),), next_check_at=_deadline(job, state))
    missing = [host for host, task in tasks.items() if task is None]
    if missing:
        launches = tuple(LaunchHost(host) for host in missing)
        return TrainingPlan(state, launches, next_check_at=_deadline(job, state))
    if state.training_started_at is None and any(
        t is not None and (t.started_at is not None or t.is_done) for t in tasks.values()
    ):
        state = replace(enter(state, SecondaryStatus.TRAINING, now), training_started_at=now)
    if not all(t is not None and t.is_done for t in tasks.values()):
        saves, next_save = _periodic_save(job, state, observed, now)
        deadline = _deadline(job, state)
        return TrainingPlan(state, saves, next_check_at=min(deadline, next_save or deadline))
    if state.training_started_at is None:  # hosts finished before any was seen running
        state = replace(enter(state, SecondaryStatus.TRAINING, now), training_started_at=now)
    uploads = _uploads(job, observed, tasks)
    if uploads:
        return TrainingPlan(enter(state, SecondaryStatus.UPLOADING, now), uploads)
    completed = enter(state, SecondaryStatus.COMPLETED, now, status=TrainingJobStatus.COMPLETED)
    return TrainingPlan(replace(completed, training_ended_at=now), done=True)
