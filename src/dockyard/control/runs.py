"""Tasks that run to completion: what their exit means, and when they may go (pure).

Training hosts today, batch-transform workers and one-off ECS ``RunTask`` next: a task
that is meant to end. :func:`run_outcome` turns a task's record into one verdict
(running, succeeded, failed with a reason, stopped), the same for every such task;
:func:`reapable` is the one reap policy of every task, services' replicas included.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dockyard.control.task import StopCode, Task
from dockyard.control.task_state import OOM_REASON


class RunStatus(StrEnum):
    PENDING = "Pending"  # not running yet
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"  # every essential container exited 0
    FAILED = "Failed"  # an essential container exited non-zero, or could not start
    STOPPED = "Stopped"  # stopped on request before it finished


@dataclass(frozen=True)
class RunOutcome:
    status: RunStatus
    exit_code: int | None = None
    reason: str = ""  # why it failed or stopped, for a person

    @property
    def finished(self) -> bool:
        return self.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.STOPPED)


def run_outcome(task: Task) -> RunOutcome:
    """The verdict on a run-to-completion task, from its record alone."""
    if not task.is_done:
        started = task.started_at is not None
        return RunOutcome(RunStatus.RUNNING if started else RunStatus.PENDING)
    code = task.exit_code()
    requested = task.stop_code in (StopCode.USER_INITIATED, StopCode.SERVICE_SCHEDULER_INITIATED)
    if requested:
        return RunOutcome(RunStatus.STOPPED, code, task.stopped_reason or "")
    if code == 0:
        return RunOutcome(RunStatus.SUCCEEDED, 0)
    if code is None:
        return RunOutcome(
            RunStatus.FAILED, None, task.stopped_reason or "the container did not run"
        )
    oom = any(c.reason == OOM_REASON for c in task.containers)
    cause = " (killed: out of memory)" if oom else ""
    return RunOutcome(RunStatus.FAILED, code, f"exited with code {code}{cause}")


def reapable(task: Task, *, in_load_balancer: bool = False, result_collected: bool = True) -> bool:
    """May the task's containers, scratch volumes and record go now?

    Only once it has STOPPED, nothing routes to it any more, and whoever waits on its
    result (a training job packing its model) has taken it.
    """
    return task.is_done and not in_load_balancer and result_collected
