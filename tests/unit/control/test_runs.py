"""Run-to-completion tasks: one verdict from the exit, one reap policy for every task."""

from __future__ import annotations

from dataclasses import replace

import pytest
from control_builders import make_task

from dockyard.control.runs import RunStatus, reapable, run_outcome
from dockyard.control.task import ContainerStatus, StopCode, Task, TaskStatus, request_stop
from dockyard.control.task_state import OOM_REASON

pytestmark = pytest.mark.unit


def exited(code: int | None, *, reason: str | None = None, stop: StopCode | None = None) -> Task:
    task = make_task("t", status=TaskStatus.STOPPED)
    container = replace(task.containers[0], exit_code=code, reason=reason)
    code_ = stop or StopCode.ESSENTIAL_CONTAINER_EXITED
    return replace(task, containers=(container,), stop_code=code_)


def test_a_run_not_started_yet_is_pending_and_a_started_one_running() -> None:
    assert run_outcome(make_task(status=TaskStatus.PENDING)).status is RunStatus.PENDING
    assert run_outcome(make_task(status=TaskStatus.RUNNING)).status is RunStatus.RUNNING


def test_exit_zero_succeeds() -> None:
    assert run_outcome(exited(0)) == run_outcome(exited(0))
    assert run_outcome(exited(0)).status is RunStatus.SUCCEEDED


def test_a_non_zero_exit_fails_naming_the_code() -> None:
    outcome = run_outcome(exited(3))
    assert (outcome.status, outcome.exit_code) == (RunStatus.FAILED, 3)
    assert outcome.reason == "exited with code 3"


def test_an_out_of_memory_kill_says_so() -> None:
    assert "out of memory" in run_outcome(exited(137, reason=OOM_REASON)).reason


def test_a_container_that_never_ran_fails_with_the_stop_reason() -> None:
    task = replace(exited(None), stopped_reason="CannotStartContainerError: no such image")
    outcome = run_outcome(task)
    assert outcome.status is RunStatus.FAILED
    assert outcome.reason == "CannotStartContainerError: no such image"


def test_a_run_stopped_on_request_is_stopped_not_failed() -> None:
    task = exited(143, stop=StopCode.USER_INITIATED)
    assert run_outcome(task).status is RunStatus.STOPPED


def test_only_a_stopped_task_nobody_needs_is_reaped() -> None:
    done = exited(0)
    assert reapable(done)
    assert not reapable(done, in_load_balancer=True)
    assert not reapable(done, result_collected=False)
    running = request_stop(make_task("r"), StopCode.USER_INITIATED, "stop", 1.0)
    assert running.containers[0].last_status is ContainerStatus.RUNNING
    assert not reapable(running)
