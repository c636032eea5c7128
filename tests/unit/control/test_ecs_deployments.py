"""Deployments of an ECS service, deletion and standalone-task retention (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dockyard.control.deployments import (
    MAX_DEPLOYMENTS,
    Deployment,
    RolloutState,
    ServiceStatus,
    delete_refusal,
    deployment_views,
    finished_draining,
    next_deployments,
)
from dockyard.control.standalone import ACTIVE_RECHECK_S, plan_standalone
from dockyard.control.task import (
    DesiredStatus,
    StopCode,
    Task,
    TaskStatus,
    kept_stop,
    request_stop,
)

pytestmark = pytest.mark.unit


def task(task_id: str, deployment: str, status: TaskStatus = TaskStatus.RUNNING) -> Task:
    return Task(task_id, "web:1", (), created_at=0.0, last_status=status, deployment=deployment)


def test_the_first_deployment_is_primary_and_in_progress() -> None:
    deployments, began = next_deployments((), "web:1", force=False, steady=False, now=5, new_id="a")
    assert began
    assert deployments == (Deployment("a", "web:1", 5, 5),)


def test_a_count_change_keeps_the_deployment_a_new_revision_or_force_starts_one() -> None:
    first, _ = next_deployments((), "web:1", force=False, steady=False, now=1, new_id="a")
    same, began = next_deployments(first, "web:1", force=False, steady=True, now=2, new_id="b")
    assert (same, began) == (first, False)
    forced, began = next_deployments(first, "web:1", force=True, steady=True, now=2, new_id="b")
    assert began
    assert [d.id for d in forced] == ["a", "b"]
    assert forced[0].rollout_state is RolloutState.COMPLETED  # it had reached steady
    rolled, _ = next_deployments(first, "web:2", force=False, steady=False, now=2, new_id="c")
    assert rolled[0].rollout_state is RolloutState.IN_PROGRESS
    assert rolled[-1].revision == "web:2"


def test_at_most_max_deployments_are_kept() -> None:
    deployments: tuple[Deployment, ...] = ()
    for index in range(MAX_DEPLOYMENTS + 3):
        deployments, _ = next_deployments(
            deployments, "web:1", force=True, steady=True, now=index, new_id=str(index)
        )
    assert len(deployments) == MAX_DEPLOYMENTS
    assert deployments[-1].id == str(MAX_DEPLOYMENTS + 2)


def test_views_list_primary_then_earlier_deployments_with_tasks() -> None:
    deployments = (
        Deployment("old", "web:0", 0, 0, RolloutState.COMPLETED),
        Deployment("a", "web:1", 0, 0, RolloutState.COMPLETED),
        Deployment("b", "web:2", 1, 1),
    )
    tasks = [
        task("1", "a"),
        task("2", "b", TaskStatus.PENDING),
        task("3", "old", TaskStatus.STOPPED),
    ]

    views = deployment_views(deployments, tasks, desired_count=2, steady=False)

    assert [(v.deployment.id, v.status) for v in views] == [("b", "PRIMARY"), ("a", "ACTIVE")]
    assert (views[0].desired_count, views[0].pending_count) == (2, 1)
    assert views[0].rollout_state is RolloutState.IN_PROGRESS
    assert (views[1].running_count, views[1].rollout_state) == (1, RolloutState.COMPLETED)
    done = deployment_views(deployments, [task("2", "b")], desired_count=1, steady=True)
    assert [(v.status, v.rollout_state) for v in done] == [("PRIMARY", RolloutState.COMPLETED)]


def test_delete_is_refused_above_zero_unless_forced() -> None:
    assert delete_refusal("web", 2, force=False)
    assert delete_refusal("web", 2, force=True) is None
    assert delete_refusal("web", 0, force=False) is None


def test_a_draining_service_finishes_once_no_task_is_left() -> None:
    assert finished_draining(ServiceStatus.DRAINING, 0)
    assert not finished_draining(ServiceStatus.DRAINING, 1)
    assert not finished_draining(ServiceStatus.ACTIVE, 0)


def test_standalone_tasks_are_watched_while_active_and_reaped_after_retention() -> None:
    running = task("1", "")
    assert plan_standalone(running, 10.0).next_check_at == 10.0 + ACTIVE_RECHECK_S
    stopped = replace(running, last_status=TaskStatus.STOPPED, stopped_at=100.0)
    waiting = plan_standalone(stopped, 150.0, retention_s=60.0)
    assert (waiting.reap, waiting.next_check_at) == (False, 160.0)
    assert plan_standalone(stopped, 160.0, retention_s=60.0).reap


def test_a_stop_recorded_meanwhile_is_kept_by_a_later_write() -> None:
    stale = task("1", "")
    stored = request_stop(stale, StopCode.USER_INITIATED, "enough", 3.0)

    kept = kept_stop(stale, stored)

    assert kept.desired_status is DesiredStatus.STOPPED
    assert (kept.stop_code, kept.stopped_reason, kept.stopping_at) == (
        StopCode.USER_INITIATED,
        "enough",
        3.0,
    )
    assert kept_stop(stored, stale) == stored  # a newer stop is never undone either
