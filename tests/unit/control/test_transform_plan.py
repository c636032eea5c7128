"""The batch transform job controller: replicas, the driver and DescribeTransformJob's status."""

from __future__ import annotations

from dataclasses import replace

import pytest
from control_builders import make_task

from dockyard.control.task import ContainerStatus, StopCode, Task, TaskStatus
from dockyard.control.transform import (
    MAX_REPLACEMENTS,
    HaltDriver,
    LaunchReplica,
    ReplaceReplica,
    RunDriver,
    StopReplica,
    TransformJobState,
    TransformJobStatus,
    TransformObservation,
    new_transform_job,
    plan_transform,
    replica_names,
)

pytestmark = pytest.mark.unit

REPLICAS = replica_names(2)


def running(name: str) -> Task:
    return make_task(f"task-{name}", "job:1", status=TaskStatus.RUNNING, created=1.0, started=2.0)


def exited(name: str, code: int = 137) -> Task:
    task = make_task(f"task-{name}", "job:1", status=TaskStatus.STOPPED, created=1.0, started=2.0)
    container = replace(task.containers[0], last_status=ContainerStatus.STOPPED, exit_code=code)
    return replace(task, containers=(container,), stopped_at=5.0)


def both_running() -> dict[str, Task | None]:
    return {name: running(name) for name in REPLICAS}


def step(
    state: TransformJobState, **observed: object
) -> tuple[TransformJobState, tuple[object, ...], bool]:
    plan = plan_transform(REPLICAS, state, TransformObservation(**observed), 10.0)  # type: ignore[arg-type]
    return plan.state, plan.actions, plan.done


def test_a_new_job_launches_every_replica_and_runs_the_driver() -> None:
    state, actions, done = step(new_transform_job(0.0))
    assert state.status is TransformJobStatus.IN_PROGRESS
    assert actions == (LaunchReplica("replica-1"), LaunchReplica("replica-2"), RunDriver())
    assert not done


def test_the_start_time_is_when_a_replica_first_runs() -> None:
    state, actions, _ = step(new_transform_job(0.0), replicas=both_running())
    assert state.started_at == 10.0
    assert actions == (RunDriver(),)


def test_a_replica_that_died_is_replaced_and_counted() -> None:
    replicas = {**both_running(), "replica-2": exited("replica-2")}
    state, actions, _ = step(new_transform_job(0.0), replicas=replicas)
    assert actions == (ReplaceReplica("replica-2"), RunDriver())
    assert state.replacements == {"replica-2": 1}
    assert state.status is TransformJobStatus.IN_PROGRESS


def test_a_replica_that_keeps_dying_fails_the_job() -> None:
    worn = replace(new_transform_job(0.0), replacements={"replica-1": MAX_REPLACEMENTS})
    replicas = {**both_running(), "replica-1": exited("replica-1", 1)}
    state, actions, _ = step(worn, replicas=replicas)
    assert state.status is TransformJobStatus.FAILED
    assert "replica-1" in (state.failure_reason or "")
    assert HaltDriver() in actions
    assert StopReplica("replica-2", "Transform job finished") in actions


def test_the_driver_finishing_completes_the_job_and_stops_the_replicas() -> None:
    state, actions, done = step(
        new_transform_job(0.0), replicas=both_running(), driver_finished=True
    )
    assert state.status is TransformJobStatus.COMPLETED
    assert state.ended_at == 10.0
    assert [a for a in actions if isinstance(a, StopReplica)] == [
        StopReplica(name, "Transform job finished") for name in REPLICAS
    ]
    assert not done  # the replicas have not stopped yet


def test_failed_files_fail_the_job_naming_the_first() -> None:
    state, _, _ = step(
        new_transform_job(0.0),
        replicas=both_running(),
        driver_finished=True,
        failures=("b.csv: record 7 (line 7): the model answered 500", "c.csv: record 1"),
    )
    assert state.status is TransformJobStatus.FAILED
    assert state.failure_reason == (
        "ClientError: b.csv: record 7 (line 7): the model answered 500 (and 1 more)"
    )


def test_a_driver_error_fails_the_job() -> None:
    state, _, _ = step(new_transform_job(0.0), driver_error="ClientError: no input files")
    assert (state.status, state.failure_reason) == (
        TransformJobStatus.FAILED,
        "ClientError: no input files",
    )


def test_stop_halts_the_driver_stops_replicas_then_ends_stopped() -> None:
    state, actions, done = step(
        new_transform_job(0.0), replicas=both_running(), stop_requested=True
    )
    assert state.status is TransformJobStatus.STOPPING
    assert actions[0] == HaltDriver()
    assert (
        StopReplica(
            "replica-1", "Transform job stopped by user (StopTransformJob)", StopCode.USER_INITIATED
        )
        in actions
    )
    assert not done
    stopped = {name: exited(name, 0) for name in REPLICAS}
    state, _, done = step(state, replicas=stopped, stop_requested=True)
    assert state.status is TransformJobStatus.STOPPED
    assert done


def test_a_finished_job_is_done_once_its_replicas_have_stopped() -> None:
    completed, _, _ = step(new_transform_job(0.0), replicas=both_running(), driver_finished=True)
    state, actions, done = step(completed, replicas={n: exited(n, 0) for n in REPLICAS})
    assert state == completed
    assert actions == (HaltDriver(),)
    assert done
