"""A task's lifecycle, derived from what the engine reports about its containers."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.control.task import (
    ESSENTIAL_EXITED,
    ContainerObservation,
    ContainerStatus,
    DesiredStatus,
    EngineState,
    HealthStatus,
    StopCode,
    Task,
    TaskStatus,
    abandoned_containers,
    containers_to_start,
    containers_to_stop,
    engine_state,
    new_task,
    observe,
    request_stop,
)
from dockyard.control.task_state import CONTAINER_GONE, OOM_REASON
from dockyard.spec.task_definition import parse_task_definition

pytestmark = pytest.mark.unit

RUN = EngineState.RUNNING
EXIT = EngineState.EXITED


def definition(*containers: dict[str, Any]) -> Any:
    defaults = [
        {"name": "app", "image": "app"},
        {"name": "sidecar", "image": "side", "essential": False},
    ]
    return parse_task_definition(
        {"family": "web", "containerDefinitions": list(containers) or defaults}
    )


def task(*containers: dict[str, Any]) -> Task:
    return new_task("t1", definition(*containers), "web:1", now=0.0, started_by="service:web")


def seen(state: EngineState, cid: str = "c", **kw: Any) -> ContainerObservation:
    return ContainerObservation(state=state, container_id=cid, **kw)


def running(t: Task, now: float = 1.0) -> Task:
    return observe(t, {"app": seen(RUN, "a"), "sidecar": seen(RUN, "s")}, now)


def test_new_task_records_each_containers_role() -> None:
    t = task(
        {
            "name": "app",
            "image": "a",
            "healthCheck": {"command": ["CMD", "true"]},
            "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
        },
        {"name": "init", "image": "i", "essential": False},
    )
    app = t.container("app")
    assert (app.essential, app.has_health_check, app.depends_on) == (
        True,
        True,
        (("init", "SUCCESS"),),
    )
    assert t.container("init").essential is False
    assert (t.last_status, t.desired_status, t.started_by) == (
        TaskStatus.PROVISIONING,
        DesiredStatus.RUNNING,
        "service:web",
    )


def test_task_without_containers_yet_stays_provisioning() -> None:
    assert observe(task(), {}, 1.0).last_status is TaskStatus.PROVISIONING


def test_created_container_makes_the_task_pending() -> None:
    t = observe(task(), {"app": seen(EngineState.CREATED, "a")}, 1.0)
    assert t.last_status is TaskStatus.PENDING
    assert t.container("app").container_id == "a"


def test_task_runs_once_every_essential_container_runs() -> None:
    t = observe(task(), {"app": seen(RUN, "a")}, 5.0)
    assert t.last_status is TaskStatus.RUNNING
    assert t.started_at == 5.0
    assert t.container("sidecar").last_status is ContainerStatus.PENDING


def test_started_at_is_kept_across_observations() -> None:
    t = running(task(), now=5.0)
    assert running(t, now=9.0).started_at == 5.0


def test_observing_twice_gives_the_same_task() -> None:
    t = running(task())
    assert running(t) == t


@pytest.mark.parametrize("code", [0, 1, 137])
def test_essential_container_exit_stops_the_task(code: int) -> None:
    t = running(task())
    t = observe(t, {"app": seen(EXIT, "a", exit_code=code), "sidecar": seen(RUN, "s")}, 7.0)
    assert (t.desired_status, t.last_status) == (DesiredStatus.STOPPED, TaskStatus.STOPPING)
    assert t.stop_code is StopCode.ESSENTIAL_CONTAINER_EXITED
    assert t.stopped_reason == ESSENTIAL_EXITED == "Essential container in task exited"
    assert t.container("app").exit_code == code
    assert containers_to_stop(t) == ("sidecar",)
    t = observe(t, {"app": seen(EXIT, "a", exit_code=code), "sidecar": seen(EXIT, "s")}, 9.0)
    assert (t.last_status, t.stopped_at, t.stopping_at) == (TaskStatus.STOPPED, 9.0, 7.0)
    assert containers_to_stop(t) == ()


def test_non_essential_exit_leaves_the_task_running() -> None:
    t = running(task())
    t = observe(t, {"app": seen(RUN, "a"), "sidecar": seen(EXIT, "s", exit_code=3)}, 2.0)
    assert t.last_status is TaskStatus.RUNNING
    assert t.container("sidecar").exit_code == 3


def test_out_of_memory_kill_is_the_containers_reason() -> None:
    t = running(task())
    t = observe(t, {"app": seen(EXIT, "a", exit_code=137, oom_killed=True), "sidecar": None}, 2.0)
    assert t.container("app").reason == OOM_REASON
    assert t.stop_code is StopCode.ESSENTIAL_CONTAINER_EXITED


def test_engine_failure_to_start_fails_the_task() -> None:
    t = observe(task(), {"app": seen(EngineState.CREATED, "a", error="exec: no such file")}, 1.0)
    assert t.stop_code is StopCode.TASK_FAILED_TO_START
    assert t.stopped_reason == "CannotStartContainerError: exec: no such file"
    assert t.last_status is TaskStatus.STOPPED


def test_container_removed_behind_our_back_stops_the_task_with_a_reason() -> None:
    t = running(task())
    t = observe(t, {"sidecar": seen(RUN, "s")}, 3.0)
    assert t.container("app").last_status is ContainerStatus.STOPPED
    assert t.container("app").reason == CONTAINER_GONE
    assert t.stop_code is StopCode.ESSENTIAL_CONTAINER_EXITED
    assert t.last_status is TaskStatus.STOPPING


def test_stop_request_walks_stopping_then_stopped() -> None:
    t = request_stop(running(task()), StopCode.USER_INITIATED, "Task stopped by user", 4.0)
    assert containers_to_stop(t) == ("app", "sidecar")
    t = running(t, now=5.0)
    assert t.last_status is TaskStatus.STOPPING
    t = observe(t, {"app": seen(EXIT, "a", exit_code=143), "sidecar": seen(EXIT, "s")}, 6.0)
    assert t.last_status is TaskStatus.STOPPED
    assert (t.stop_code, t.stopped_reason) == (StopCode.USER_INITIATED, "Task stopped by user")


def test_first_stop_request_wins() -> None:
    t = request_stop(running(task()), StopCode.USER_INITIATED, "first", 1.0)
    t = request_stop(t, StopCode.SERVICE_SCHEDULER_INITIATED, "second", 2.0)
    assert (t.stop_code, t.stopped_reason, t.stopping_at) == (StopCode.USER_INITIATED, "first", 1.0)


def test_stopping_a_task_that_never_started_is_immediate() -> None:
    t = request_stop(task(), StopCode.USER_INITIATED, "never mind", 1.0)
    t = observe(t, {}, 1.0)
    assert t.last_status is TaskStatus.STOPPED
    assert all(c.last_status is ContainerStatus.STOPPED for c in t.containers)


def test_stopped_task_is_final() -> None:
    t = observe(request_stop(task(), StopCode.USER_INITIATED, "x", 1.0), {}, 1.0)
    assert observe(t, {"app": seen(RUN, "a")}, 2.0) == t
    assert request_stop(t, StopCode.USER_INITIATED, "again", 3.0) == t
    assert containers_to_start(t) == ()


def test_stopped_container_is_never_seen_running_again() -> None:
    t = running(task())
    t = observe(t, {"app": seen(RUN, "a"), "sidecar": seen(EXIT, "s", exit_code=0)}, 2.0)
    t = observe(t, {"app": seen(RUN, "a"), "sidecar": seen(RUN, "s2")}, 3.0)
    assert t.container("sidecar").last_status is ContainerStatus.STOPPED


def test_health_is_recorded_with_the_first_time_it_passed() -> None:
    t = task({"name": "app", "image": "a", "healthCheck": {"command": ["CMD", "true"]}})
    t = observe(t, {"app": seen(RUN, "a", health=HealthStatus.UNKNOWN)}, 1.0)
    assert (t.health_status, t.first_healthy_at) == (HealthStatus.UNKNOWN, None)
    t = observe(t, {"app": seen(RUN, "a", health=HealthStatus.HEALTHY)}, 2.0)
    assert (t.health_status, t.first_healthy_at) == (HealthStatus.HEALTHY, 2.0)
    t = observe(t, {"app": seen(RUN, "a", health=HealthStatus.UNHEALTHY)}, 3.0)
    assert (t.health_status, t.first_healthy_at) == (HealthStatus.UNHEALTHY, 2.0)


CHECK = {"command": ["CMD", "true"]}


@pytest.mark.parametrize(
    ("app", "side", "expected"),
    [
        (None, None, HealthStatus.UNKNOWN),  # no essential container has a check
        (HealthStatus.HEALTHY, HealthStatus.UNHEALTHY, HealthStatus.HEALTHY),  # side: not essential
        (HealthStatus.UNHEALTHY, None, HealthStatus.UNHEALTHY),
        (HealthStatus.UNKNOWN, None, HealthStatus.UNKNOWN),
    ],
)
def test_task_health_comes_from_essential_containers(
    app: HealthStatus | None, side: HealthStatus | None, expected: HealthStatus
) -> None:
    t = task(
        {"name": "app", "image": "a", **({"healthCheck": CHECK} if app else {})},
        {"name": "sidecar", "image": "s", "essential": False, "healthCheck": CHECK},
    )
    t = observe(t, {"app": seen(RUN, "a", health=app), "sidecar": seen(RUN, "s", health=side)}, 1.0)
    assert t.health_status is expected
    assert t.health_checked is (app is not None)


def test_task_health_needs_every_checked_essential_container() -> None:
    t = task(
        {"name": "a", "image": "a", "healthCheck": CHECK},
        {"name": "b", "image": "b", "healthCheck": CHECK},
    )
    t = observe(
        t,
        {
            "a": seen(RUN, "a", health=HealthStatus.HEALTHY),
            "b": seen(RUN, "b", health=HealthStatus.UNKNOWN),
        },
        1.0,
    )
    assert (t.health_status, t.first_healthy_at) == (HealthStatus.UNKNOWN, None)


def _dependent(condition: str, **init: Any) -> Task:
    return task(
        {
            "name": "app",
            "image": "a",
            "dependsOn": [{"containerName": "init", "condition": condition}],
        },
        {"name": "init", "image": "i", "essential": False, **init},
    )


@pytest.mark.parametrize(
    ("condition", "init_seen", "startable"),
    [
        ("START", None, ("init",)),
        ("START", seen(EngineState.CREATED, "i"), ()),
        ("START", seen(RUN, "i"), ("app",)),
        ("COMPLETE", seen(RUN, "i"), ()),
        ("COMPLETE", seen(EXIT, "i", exit_code=2), ("app",)),
        ("SUCCESS", seen(RUN, "i"), ()),
        ("SUCCESS", seen(EXIT, "i", exit_code=0), ("app",)),
        ("HEALTHY", seen(RUN, "i", health=HealthStatus.UNKNOWN), ()),
        ("HEALTHY", seen(RUN, "i", health=HealthStatus.HEALTHY), ("app",)),
    ],
)
def test_containers_start_when_their_dependencies_allow(
    condition: str, init_seen: ContainerObservation | None, startable: tuple[str, ...]
) -> None:
    extra = {"healthCheck": CHECK} if condition == "HEALTHY" else {}
    t = observe(_dependent(condition, **extra), {"init": init_seen}, 1.0)
    assert containers_to_start(t) == startable


@pytest.mark.parametrize(
    ("condition", "init_seen", "words"),
    [
        ("SUCCESS", seen(EXIT, "i", exit_code=1), "exited with code 1"),
        ("HEALTHY", seen(EXIT, "i", exit_code=0), "stopped before it became healthy"),
    ],
)
def test_a_dependency_that_can_no_longer_hold_fails_the_task(
    condition: str, init_seen: ContainerObservation, words: str
) -> None:
    extra = {"healthCheck": CHECK} if condition == "HEALTHY" else {}
    t = observe(_dependent(condition, **extra), {"init": init_seen}, 1.0)
    assert t.stop_code is StopCode.TASK_FAILED_TO_START
    assert t.stopped_reason is not None and words in t.stopped_reason
    assert "Container app cannot start: dependency init" in t.stopped_reason


def test_nothing_starts_for_a_task_that_should_stop() -> None:
    t = request_stop(task(), StopCode.USER_INITIATED, "x", 0.0)
    assert containers_to_start(t) == ()
    assert containers_to_stop(task()) == ()


def test_exit_code_is_the_first_stopped_essential_containers() -> None:
    t = running(task())
    assert t.exit_code() is None
    t = observe(
        t, {"app": seen(EXIT, "a", exit_code=4), "sidecar": seen(EXIT, "s", exit_code=9)}, 2.0
    )
    assert t.exit_code() == 4


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("created", EngineState.CREATED),
        ("running", EngineState.RUNNING),
        ("paused", EngineState.RUNNING),
        ("restarting", EngineState.RUNNING),
        ("exited", EngineState.EXITED),
        ("dead", EngineState.EXITED),
        ("removing", EngineState.EXITED),
    ],
)
def test_engine_statuses_map_to_lifecycle_states(status: str, state: EngineState) -> None:
    assert engine_state(status) is state


def test_unknown_engine_status_is_an_error() -> None:
    with pytest.raises(ValueError, match="frozen"):
        engine_state("frozen")


def test_container_lookup_names_the_task() -> None:
    with pytest.raises(KeyError, match="t1"):
        task().container("nope")


def test_a_container_created_but_never_started_nor_recorded_is_abandoned() -> None:
    t = task()
    observed = {"app": seen(EngineState.CREATED, "a"), "sidecar": None}
    assert abandoned_containers(t, observed) == ("app",)


def test_a_recorded_container_still_created_is_not_abandoned() -> None:
    t = observe(task(), {"app": seen(EngineState.CREATED, "a")}, 1.0)
    assert abandoned_containers(t, {"app": seen(EngineState.CREATED, "a")}) == ()
    assert abandoned_containers(task(), {"app": seen(RUN, "a")}) == ()


def test_a_container_that_failed_to_start_is_not_abandoned_but_reported() -> None:
    observed = {"app": seen(EngineState.CREATED, "a", error="no such file")}
    assert abandoned_containers(task(), observed) == ()
