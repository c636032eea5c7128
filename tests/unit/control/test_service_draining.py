"""Targets leave the load balancer by draining: removed when idle or when their delay ends."""

from __future__ import annotations

from dataclasses import replace

import pytest
from control_builders import lb, make_task, svc

from dockyard.control.readiness import ReplicaHealth
from dockyard.control.service import plan_service
from dockyard.control.service_actions import RegisterTarget, RemoveTarget, ServicePlan
from dockyard.control.task import (
    DesiredStatus,
    HealthStatus,
    StopCode,
    containers_to_stop,
    request_stop,
)

pytestmark = pytest.mark.unit

H = HealthStatus.HEALTHY


def draining(in_flight: int, since: float | None = 0.0) -> ReplicaHealth:
    return replace(lb(H), draining=True, in_flight=in_flight, drain_started_at=since)


def plan(health: dict[str, ReplicaHealth], now: float, **service: object) -> ServicePlan:
    state = replace(svc(desired_count=1, target_group="tg"), **service)  # type: ignore[arg-type]
    tasks = [make_task("a", "web:2")]
    retiring = make_task("old", "web:1", desired=DesiredStatus.STOPPED)
    return plan_service(state, [*tasks, retiring], {"a": lb(H, registered=True), **health}, now)


def test_an_idle_draining_target_is_removed() -> None:
    assert plan({"old": draining(0)}, 1.0).actions == (RemoveTarget("old", "tg"),)


def test_a_draining_target_with_requests_in_flight_waits_for_them() -> None:
    result = plan({"old": draining(2)}, 1.0)
    assert result.actions == ()
    assert result.next_check_at == 5.0  # the deregistration delay ends then
    assert not result.steady


def test_a_draining_target_is_cut_when_its_delay_is_over() -> None:
    result = plan({"old": draining(2)}, 5.0)
    assert result.actions == (RemoveTarget("old", "tg"),)


def test_the_deregistration_delay_is_the_services() -> None:
    assert plan({"old": draining(2)}, 3.0, deregistration_delay_s=2.0).removals


def test_a_drain_with_no_recorded_start_is_finished_now() -> None:
    assert plan({"old": draining(1, since=None)}, 1.0).removals


def test_a_ready_task_is_not_registered_again_while_it_drains() -> None:
    state = svc(desired_count=1, target_group="tg")
    result = plan_service(state, [make_task("a", "web:2")], {"a": draining(1)}, 1.0)
    assert RegisterTarget("a", "tg") not in result.actions


def test_a_stopped_task_keeps_its_containers_while_the_balancer_holds_it() -> None:
    task = request_stop(make_task("a"), StopCode.SERVICE_SCHEDULER_INITIATED, "scale-in", 1.0)
    assert containers_to_stop(task, held=True) == ()
    assert containers_to_stop(task) == ("app",)
