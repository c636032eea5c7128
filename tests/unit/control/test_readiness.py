"""When a service's task counts as ready, still starting, or failed."""

from __future__ import annotations

import pytest
from control_builders import lb, make_task

from dockyard.control.readiness import (
    CONTAINER_CHECKS_FAILED,
    HealthPolicy,
    Readiness,
    ReplicaHealth,
    assess,
)
from dockyard.control.task import HealthStatus, TaskStatus

pytestmark = pytest.mark.unit

H, U, K = HealthStatus.HEALTHY, HealthStatus.UNHEALTHY, HealthStatus.UNKNOWN
PLAIN = HealthPolicy(service="web")
BALANCED = HealthPolicy(service="web", target_group="tg")
GRACE = HealthPolicy(service="web", target_group="tg", grace_period_s=30)
STARTUP = HealthPolicy(service="web", target_group="tg", startup_timeout_s=60)


@pytest.mark.parametrize(
    ("name", "policy", "check", "health", "now", "readiness", "recheck"),
    [
        ("unchecked-settling", PLAIN, None, None, 10.0, Readiness.WAITING, 40.0),
        ("unchecked-settled", PLAIN, None, None, 40.0, Readiness.READY, None),
        ("container-healthy", PLAIN, H, None, 1.0, Readiness.READY, None),
        ("container-unknown", PLAIN, K, None, 1.0, Readiness.WAITING, None),
        ("container-unhealthy", PLAIN, U, None, 1.0, Readiness.FAILED, None),
        ("lb-healthy", BALANCED, None, lb(H), 1.0, Readiness.READY, None),
        ("lb-not-checked-yet", BALANCED, None, None, 1.0, Readiness.WAITING, None),
        ("lb-unknown", BALANCED, None, lb(K), 1.0, Readiness.WAITING, None),
        ("lb-unhealthy", BALANCED, None, lb(U), 1.0, Readiness.FAILED, None),
        ("lb-healthy-container-unknown", BALANCED, K, lb(H), 1.0, Readiness.WAITING, None),
        ("both-healthy", BALANCED, H, lb(H), 1.0, Readiness.READY, None),
        ("lb-unhealthy-in-grace", GRACE, None, lb(U), 10.0, Readiness.WAITING, 30.0),
        ("container-unhealthy-in-grace", GRACE, U, lb(H), 10.0, Readiness.WAITING, 30.0),
        ("lb-unhealthy-after-grace", GRACE, None, lb(U), 30.0, Readiness.FAILED, None),
        ("never-healthy-before-deadline", STARTUP, None, lb(K), 59.0, Readiness.WAITING, 60.0),
        ("never-healthy-at-deadline", STARTUP, None, lb(K), 60.0, Readiness.FAILED, None),
        (
            "was-healthy-after-deadline",
            STARTUP,
            None,
            lb(K, first=5.0),
            90.0,
            Readiness.WAITING,
            None,
        ),
        ("healthy-after-deadline", STARTUP, None, lb(H), 90.0, Readiness.READY, None),
    ],
)
def test_running_task_readiness(
    name: str,
    policy: HealthPolicy,
    check: HealthStatus | None,
    health: ReplicaHealth | None,
    now: float,
    readiness: Readiness,
    recheck: float | None,
) -> None:
    task = make_task(check=check, created=0.0, started=0.0)
    verdict = assess(task, policy, health, now)
    assert verdict.readiness is readiness, name
    assert verdict.recheck_at == recheck, name


def test_unhealthy_in_grace_also_waits_for_the_startup_deadline() -> None:
    policy = HealthPolicy(
        service="web", target_group="tg", grace_period_s=100, startup_timeout_s=60
    )
    task = make_task(created=0.0, started=0.0)
    assert assess(task, policy, lb(U), 10.0).recheck_at == 60.0
    assert assess(task, policy, lb(U), 60.0).readiness is Readiness.FAILED


@pytest.mark.parametrize("status", [TaskStatus.PROVISIONING, TaskStatus.PENDING])
def test_starting_task_waits_until_its_startup_deadline(status: TaskStatus) -> None:
    task = make_task(status=status, created=10.0)
    assert assess(task, STARTUP, None, 20.0).readiness is Readiness.WAITING
    assert assess(task, STARTUP, None, 20.0).recheck_at == 70.0
    failed = assess(task, STARTUP, None, 70.0)
    assert failed.readiness is Readiness.FAILED
    assert "within 60 seconds" in failed.reason
    assert assess(task, PLAIN, None, 1e9).readiness is Readiness.WAITING


def test_failure_reasons_and_events_use_ecs_wording() -> None:
    container = assess(make_task(check=U), PLAIN, None, 1.0)
    assert container.reason == CONTAINER_CHECKS_FAILED == "Task failed container health checks"
    assert container.event == "(service web) (task t1) failed container health checks."
    target = assess(make_task(), BALANCED, lb(U), 1.0)
    assert target.reason == "Task failed ELB health checks in (target-group tg)"
    assert target.event == (
        "(service web) (task t1) is unhealthy in (target-group tg) "
        "due to (reason Health checks failed)."
    )
    startup = assess(make_task(), STARTUP, lb(K), 60.0)
    assert startup.event == (
        "(service web) (task t1) did not pass its health checks within 60 seconds of starting."
    )


def test_container_check_failure_wins_over_the_load_balancer() -> None:
    verdict = assess(make_task(check=U), BALANCED, lb(U), 1.0)
    assert verdict.reason == CONTAINER_CHECKS_FAILED
