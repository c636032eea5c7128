"""A training job's statuses and their history, as DescribeTrainingJob reports them.

Values are botocore's (``TrainingJobStatus``, ``SecondaryStatus``); the status messages
are the descriptions botocore's documentation gives for each secondary status. Every
change of secondary status closes the previous :class:`StatusTransition` (its
``EndTime``) and opens a new one, like ``SecondaryStatusTransitions``; the final one
(Completed, Failed, Stopped, MaxRuntimeExceeded) starts and ends at the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class TrainingJobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    DELETING = "Deleting"


class SecondaryStatus(StrEnum):
    STARTING = "Starting"
    LAUNCHING_ML_INSTANCES = "LaunchingMLInstances"
    PREPARING_TRAINING_STACK = "PreparingTrainingStack"
    DOWNLOADING = "Downloading"
    DOWNLOADING_TRAINING_IMAGE = "DownloadingTrainingImage"
    TRAINING = "Training"
    UPLOADING = "Uploading"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"
    COMPLETED = "Completed"
    FAILED = "Failed"
    INTERRUPTED = "Interrupted"
    MAX_WAIT_TIME_EXCEEDED = "MaxWaitTimeExceeded"
    UPDATING = "Updating"
    RESTARTING = "Restarting"
    PENDING = "Pending"


TERMINAL_STATUSES = frozenset(
    {TrainingJobStatus.COMPLETED, TrainingJobStatus.FAILED, TrainingJobStatus.STOPPED}
)
FINAL_SECONDARY = frozenset(
    {
        SecondaryStatus.COMPLETED,
        SecondaryStatus.FAILED,
        SecondaryStatus.STOPPED,
        SecondaryStatus.MAX_RUNTIME_EXCEEDED,
    }
)

STATUS_MESSAGES: dict[SecondaryStatus, str] = {
    SecondaryStatus.STARTING: "Starting the training job",
    SecondaryStatus.DOWNLOADING: "Downloading input data",
    SecondaryStatus.TRAINING: "Training is in progress",
    SecondaryStatus.UPLOADING: "Training is complete and the model artifacts are being uploaded",
    SecondaryStatus.STOPPING: "Stopping the training job",
    SecondaryStatus.STOPPED: "The training job has stopped",
    SecondaryStatus.MAX_RUNTIME_EXCEEDED: (
        "The job stopped because it exceeded the maximum allowed runtime"
    ),
    SecondaryStatus.COMPLETED: "The training job has completed",
    SecondaryStatus.FAILED: "The training job has failed",
}


class StopCause(StrEnum):
    USER = "User"  # StopTrainingJob
    MAX_RUNTIME = "MaxRuntime"  # StoppingCondition.MaxRuntimeInSeconds reached


@dataclass(frozen=True)
class StatusTransition:
    status: SecondaryStatus
    start_time: float
    end_time: float | None = None
    message: str = ""

    def to_aws(self) -> dict[str, Any]:
        """One ``SecondaryStatusTransitions`` entry (times as epoch seconds)."""
        entry: dict[str, Any] = {"Status": str(self.status), "StartTime": self.start_time}
        if self.end_time is not None:
            entry["EndTime"] = self.end_time
        if self.message:
            entry["StatusMessage"] = self.message
        return entry


@dataclass(frozen=True)
class TrainingJobState:
    """What the server stores about a job's progress (besides its spec)."""

    status: TrainingJobStatus
    secondary_status: SecondaryStatus
    transitions: tuple[StatusTransition, ...]
    created_at: float
    last_modified_at: float
    failure_reason: str | None = None
    stop_cause: StopCause | None = None
    training_started_at: float | None = None  # TrainingStartTime
    training_ended_at: float | None = None  # TrainingEndTime

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


def new_training_job(now: float) -> TrainingJobState:
    """A job just created: InProgress / Starting."""
    first = StatusTransition(
        SecondaryStatus.STARTING, now, message=STATUS_MESSAGES[SecondaryStatus.STARTING]
    )
    return TrainingJobState(
        status=TrainingJobStatus.IN_PROGRESS,
        secondary_status=SecondaryStatus.STARTING,
        transitions=(first,),
        created_at=now,
        last_modified_at=now,
    )


def enter(
    state: TrainingJobState,
    secondary: SecondaryStatus,
    now: float,
    *,
    status: TrainingJobStatus | None = None,
) -> TrainingJobState:
    """``state`` moved to ``secondary`` (and ``status``), with the transition recorded."""
    new_status = status or state.status
    if secondary is state.secondary_status and new_status is state.status:
        return state
    history = state.transitions
    if secondary is not state.secondary_status:
        if history and history[-1].end_time is None:
            history = (*history[:-1], replace(history[-1], end_time=now))
        end = now if secondary in FINAL_SECONDARY else None
        message = STATUS_MESSAGES.get(secondary, "")
        history = (*history, StatusTransition(secondary, now, end, message))
    return replace(
        state,
        status=new_status,
        secondary_status=secondary,
        transitions=history,
        last_modified_at=now,
    )
