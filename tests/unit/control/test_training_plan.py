"""The training job controller: statuses, secondary statuses and actions."""

from __future__ import annotations

from dataclasses import replace

import pytest
from control_builders import make_task

from dockyard.control.task import ContainerStatus, StopCode, Task, TaskStatus, request_stop
from dockyard.control.task_state import OOM_REASON
from dockyard.control.training import (
    LaunchHost,
    PrepareInputs,
    StopHost,
    TrainingJobSummary,
    TrainingObservation,
    TrainingPlan,
    UploadArtifacts,
    plan_training,
)
from dockyard.control.training_status import (
    SecondaryStatus,
    StatusTransition,
    StopCause,
    TrainingJobState,
    TrainingJobStatus,
    enter,
    new_training_job,
)

pytestmark = pytest.mark.unit

JOB = TrainingJobSummary(hosts=("algo-1", "algo-2"), max_runtime_s=1000)
IN_PROGRESS, COMPLETED, FAILED = (
    TrainingJobStatus.IN_PROGRESS,
    TrainingJobStatus.COMPLETED,
    TrainingJobStatus.FAILED,
)
STOPPING, STOPPED = TrainingJobStatus.STOPPING, TrainingJobStatus.STOPPED


def host(
    name: str,
    status: TaskStatus = TaskStatus.RUNNING,
    *,
    exit_code: int | None = None,
    stopped_at: float = 50.0,
    reason: str | None = None,
) -> Task:
    started = None if status is TaskStatus.PENDING else 10.0
    task = make_task(f"task-{name}", "job:1", status=status, created=10.0, started=started)
    if status is TaskStatus.STOPPED:
        container = replace(
            task.containers[0],
            last_status=ContainerStatus.STOPPED,
            exit_code=exit_code,
            reason=reason,
        )
        task = replace(task, containers=(container,), stopped_at=stopped_at)
    return task


def done(name: str, code: int | None = 0, **kw: object) -> Task:
    return host(name, TaskStatus.STOPPED, exit_code=code, **kw)  # type: ignore[arg-type]


def seen(**kw: object) -> TrainingObservation:
    values: dict[str, object] = {"inputs_ready": True}
    values.update(kw)
    return TrainingObservation(**values)  # type: ignore[arg-type]


def step(state: TrainingJobState, observed: TrainingObservation, now: float) -> TrainingPlan:
    return plan_training(JOB, state, observed, now)


def training(now: float = 10.0) -> TrainingJobState:
    """A job whose two hosts are running."""
    state = step(new_training_job(0.0), TrainingObservation(), 1.0).state
    both = {"algo-1": host("algo-1"), "algo-2": host("algo-2")}
    return step(state, seen(hosts=both), now).state


def test_new_job_is_in_progress_and_starting() -> None:
    state = new_training_job(0.0)
    assert (state.status, state.secondary_status) == (IN_PROGRESS, SecondaryStatus.STARTING)
    assert state.transitions == (
        StatusTransition(SecondaryStatus.STARTING, 0.0, None, "Starting the training job"),
    )


def test_inputs_are_prepared_first() -> None:
    plan = step(new_training_job(0.0), TrainingObservation(), 1.0)
    assert plan.actions == (PrepareInputs(),)
    assert plan.state.secondary_status is SecondaryStatus.DOWNLOADING
    assert plan.state.transitions[0].end_time == 1.0
    assert plan.next_check_at == 1000.0


def test_hosts_are_launched_once_inputs_are_ready() -> None:
    plan = step(new_training_job(0.0), seen(), 1.0)
    assert plan.actions == (LaunchHost("algo-1"), LaunchHost("algo-2"))
    one = step(
        new_training_job(0.0), seen(hosts={"algo-1": host("algo-1", TaskStatus.PENDING)}), 1.0
    )
    assert one.actions == (LaunchHost("algo-2"),)


def test_training_starts_when_a_host_runs() -> None:
    pending = {h: host(h, TaskStatus.PENDING) for h in JOB.hosts}
    waiting = step(new_training_job(0.0), seen(hosts=pending), 5.0)
    assert (waiting.actions, waiting.state.secondary_status) == ((), SecondaryStatus.STARTING)
    state = training(now=10.0)
    assert state.secondary_status is SecondaryStatus.TRAINING
    assert state.training_started_at == 10.0
    assert state.transitions[-1].message == "Training is in progress"


def test_successful_hosts_lead_to_upload_then_completed() -> None:
    finished = {"algo-1": done("algo-1"), "algo-2": done("algo-2")}
    uploading = step(training(), seen(hosts=finished), 60.0)
    assert uploading.actions == (UploadArtifacts(),)
    assert uploading.state.secondary_status is SecondaryStatus.UPLOADING
    assert uploading.state.status is IN_PROGRESS
    completed = step(uploading.state, seen(hosts=finished, artifacts_uploaded=True), 70.0)
    assert (completed.state.status, completed.state.secondary_status) == (
        COMPLETED,
        SecondaryStatus.COMPLETED,
    )
    assert completed.done and completed.actions == ()
    assert completed.state.training_ended_at == 70.0
    last = completed.state.transitions[-1]
    assert (last.start_time, last.end_time) == (70.0, 70.0)
    assert [t.status for t in completed.state.transitions] == [
        SecondaryStatus.STARTING,
        SecondaryStatus.DOWNLOADING,
        SecondaryStatus.TRAINING,
        SecondaryStatus.UPLOADING,
        SecondaryStatus.COMPLETED,
    ]


def test_waiting_on_a_running_host_changes_nothing() -> None:
    state = training()
    mixed = {"algo-1": done("algo-1"), "algo-2": host("algo-2")}
    plan = step(state, seen(hosts=mixed), 20.0)
    assert (plan.state, plan.actions, plan.done) == (state, (), False)


def test_a_failed_host_fails_the_job_and_stops_the_others() -> None:
    hosts = {"algo-1": host("algo-1"), "algo-2": done("algo-2", 2)}
    texts = {"algo-2": "ValueError: bad input\n" + "x" * 2000}
    plan = step(training(), seen(hosts=hosts, failure_texts=texts), 30.0)
    assert (plan.state.status, plan.state.secondary_status) == (FAILED, SecondaryStatus.FAILED)
    assert plan.state.failure_reason is not None
    assert plan.state.failure_reason.startswith("ValueError: bad input")
    assert len(plan.state.failure_reason) == 1024
    assert plan.actions == (StopHost("algo-1", "Another host of the training job failed"),)
    assert not plan.done
    hosts["algo-1"] = done("algo-1", 143)
    final = step(plan.state, seen(hosts=hosts), 40.0)
    assert (final.actions, final.done, final.state) == ((), True, plan.state)


def test_a_host_already_stopping_is_not_stopped_again() -> None:
    stopping = request_stop(host("algo-1"), StopCode.USER_INITIATED, "x", 1.0)
    hosts = {"algo-1": stopping, "algo-2": done("algo-2", 1)}
    plan = step(training(), seen(hosts=hosts), 30.0)
    assert plan.actions == ()


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        (done("algo-1", 1), "AlgorithmError: the training container on algo-1 exited with code 1;"),
        (done("algo-1", 137, reason=OOM_REASON), "exited with code 137 (killed: out of memory)"),
        (
            replace(
                done("algo-1", None), stopped_reason="CannotStartContainerError: no entrypoint"
            ),
            "AlgorithmError: algo-1: CannotStartContainerError: no entrypoint",
        ),
    ],
)
def test_failure_reason_without_a_failure_file_describes_the_exit(task: Task, reason: str) -> None:
    plan = step(training(), seen(hosts={"algo-1": task, "algo-2": host("algo-2")}), 30.0)
    assert plan.state.failure_reason is not None
    assert reason in plan.state.failure_reason


def test_failure_reason_is_the_first_host_to_fail() -> None:
    hosts = {
        "algo-1": done("algo-1", 1, stopped_at=40.0),
        "algo-2": done("algo-2", 1, stopped_at=30.0),
    }
    texts = {"algo-1": "one", "algo-2": "two"}
    assert (
        step(training(), seen(hosts=hosts, failure_texts=texts), 50.0).state.failure_reason == "two"
    )
    hosts["algo-1"] = done("algo-1", 1, stopped_at=30.0)
    assert (
        step(training(), seen(hosts=hosts, failure_texts=texts), 50.0).state.failure_reason == "one"
    )


def test_platform_error_fails_the_job() -> None:
    plan = step(
        new_training_job(0.0), TrainingObservation(platform_error="ClientError: no data"), 1.0
    )
    assert (plan.state.status, plan.state.failure_reason) == (FAILED, "ClientError: no data")
    assert plan.done


def test_stop_request_stops_hosts_uploads_and_ends_stopped() -> None:
    hosts = {"algo-1": host("algo-1"), "algo-2": host("algo-2")}
    plan = step(training(), seen(hosts=hosts, stop_requested=True), 20.0)
    assert (plan.state.status, plan.state.secondary_status) == (STOPPING, SecondaryStatus.STOPPING)
    assert plan.state.stop_cause is StopCause.USER
    reason = "Training job stopped by user (StopTrainingJob)"
    assert plan.actions == (
        StopHost("algo-1", reason, StopCode.USER_INITIATED),
        StopHost("algo-2", reason, StopCode.USER_INITIATED),
    )
    gone = {"algo-1": done("algo-1", 143), "algo-2": done("algo-2", 143)}
    uploading = step(plan.state, seen(hosts=gone, stop_requested=True), 30.0)
    assert uploading.actions == (UploadArtifacts(),)
    assert uploading.state.status is STOPPING
    final = step(uploading.state, seen(hosts=gone, artifacts_uploaded=True), 40.0)
    assert (final.state.status, final.state.secondary_status) == (STOPPED, SecondaryStatus.STOPPED)
    assert final.done


def test_stopping_waits_for_hosts_that_are_stopping() -> None:
    stopping = {h: request_stop(host(h), StopCode.USER_INITIATED, "x", 1.0) for h in JOB.hosts}
    state = step(training(), seen(stop_requested=True), 20.0).state
    plan = step(state, seen(hosts=stopping), 21.0)
    assert (plan.actions, plan.state) == ((), state)


def test_stop_before_any_host_ran_skips_the_upload() -> None:
    plan = step(new_training_job(0.0), TrainingObservation(stop_requested=True), 1.0)
    assert (plan.state.status, plan.state.secondary_status) == (STOPPED, SecondaryStatus.STOPPED)
    assert plan.actions == ()


def test_max_runtime_stops_the_job_as_max_runtime_exceeded() -> None:
    state = training(now=10.0)
    hosts = {"algo-1": host("algo-1"), "algo-2": host("algo-2")}
    assert step(state, seen(hosts=hosts), 1009.0).state.status is IN_PROGRESS
    plan = step(state, seen(hosts=hosts), 1010.0)
    assert plan.state.status is STOPPING
    assert plan.state.stop_cause is StopCause.MAX_RUNTIME
    assert plan.actions == (
        StopHost("algo-1", "Training job exceeded MaxRuntimeInSeconds"),
        StopHost("algo-2", "Training job exceeded MaxRuntimeInSeconds"),
    )
    killed = {"algo-1": done("algo-1", 137), "algo-2": done("algo-2", 143)}
    uploading = step(plan.state, seen(hosts=killed), 1020.0)
    assert uploading.state.status is STOPPING  # non-zero exits after the stop are no failure
    final = step(uploading.state, seen(hosts=killed, artifacts_uploaded=True), 1030.0)
    assert (final.state.status, final.state.secondary_status) == (
        STOPPED,
        SecondaryStatus.MAX_RUNTIME_EXCEEDED,
    )
    assert final.state.transitions[-1].message == (
        "The job stopped because it exceeded the maximum allowed runtime"
    )


def test_max_runtime_before_training_counts_from_creation() -> None:
    plan = step(new_training_job(0.0), TrainingObservation(), 1000.0)
    assert plan.state.stop_cause is StopCause.MAX_RUNTIME


def test_terminal_job_ignores_stop_requests() -> None:
    failed = step(new_training_job(0.0), TrainingObservation(platform_error="x"), 1.0).state
    plan = step(failed, seen(stop_requested=True), 2.0)
    assert plan.state == failed


def test_the_same_inputs_give_the_same_plan_and_no_new_transitions() -> None:
    state = training()
    hosts = {"algo-1": host("algo-1"), "algo-2": host("algo-2")}
    first = step(state, seen(hosts=hosts), 20.0)
    assert step(state, seen(hosts=hosts), 20.0) == first
    assert step(first.state, seen(hosts=hosts), 21.0).state.transitions == state.transitions


def test_hosts_that_finish_before_being_seen_running_still_train() -> None:
    state = step(new_training_job(0.0), TrainingObservation(), 1.0).state
    finished = {"algo-1": done("algo-1"), "algo-2": done("algo-2")}
    plan = step(state, seen(hosts=finished), 5.0)
    statuses = [t.status for t in plan.state.transitions]
    assert statuses[-2:] == [SecondaryStatus.TRAINING, SecondaryStatus.UPLOADING]
    assert plan.state.training_started_at == 5.0


def test_transitions_render_as_sagemaker_does() -> None:
    open_entry = StatusTransition(SecondaryStatus.TRAINING, 1.0, None, "Training is in progress")
    assert open_entry.to_aws() == {
        "Status": "Training",
        "StartTime": 1.0,
        "StatusMessage": "Training is in progress",
    }
    closed = StatusTransition(SecondaryStatus.PENDING, 1.0, 2.0)
    assert closed.to_aws() == {"Status": "Pending", "StartTime": 1.0, "EndTime": 2.0}


def test_entering_the_same_status_changes_nothing() -> None:
    state = new_training_job(0.0)
    assert enter(state, SecondaryStatus.STARTING, 5.0) is state
    moved = enter(state, SecondaryStatus.STARTING, 5.0, status=STOPPING)
    assert (moved.status, moved.transitions) == (STOPPING, state.transitions)
