"""Properties of the scheduler over many random situations (seeded, reproducible)."""

from __future__ import annotations

import random

import pytest
from control_builders import World, make_task, svc

from dockyard.control.readiness import Readiness, ReplicaHealth, assess
from dockyard.control.service import ServiceState, plan_service
from dockyard.control.service_actions import RegisterTarget, StartTask
from dockyard.control.task import DesiredStatus, HealthStatus, Task, TaskStatus

pytestmark = pytest.mark.unit

SEEDS = range(300)
STATUSES = [TaskStatus.PROVISIONING, TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.STOPPED]
CHECKS = [None, HealthStatus.HEALTHY, HealthStatus.UNHEALTHY, HealthStatus.UNKNOWN]


def random_situation(
    seed: int,
) -> tuple[ServiceState, list[Task], dict[str, ReplicaHealth], float]:
    rng = random.Random(seed)
    service = svc(
        desired_count=rng.randint(0, 6),
        minimum_healthy_percent=rng.choice([0, 50, 100]),
        maximum_percent=rng.choice([100, 150, 200]),
        health_check_grace_period_s=rng.choice([0.0, 20.0]),
        startup_timeout_s=rng.choice([None, 30.0]),
        target_group=rng.choice([None, "tg"]),
        steady=rng.random() < 0.5,
    )
    now = 50.0
    tasks: list[Task] = []
    health: dict[str, ReplicaHealth] = {}
    for index in range(rng.randint(0, 10)):
        task_id = f"t{index}"
        created = rng.uniform(0, now)
        tasks.append(
            make_task(
                task_id,
                rng.choice(["web:1", "web:2"]),
                status=rng.choice(STATUSES),
                created=created,
                check=rng.choice(CHECKS),
                desired=DesiredStatus.STOPPED if rng.random() < 0.15 else DesiredStatus.RUNNING,
            )
        )
        if rng.random() < 0.7:
            status = rng.choice(
                [HealthStatus.HEALTHY, HealthStatus.UNHEALTHY, HealthStatus.UNKNOWN]
            )
            first = created if status is HealthStatus.HEALTHY or rng.random() < 0.3 else None
            health[task_id] = ReplicaHealth(status, first, registered=rng.random() < 0.5)
    if rng.random() < 0.2:
        health["ghost"] = ReplicaHealth(HealthStatus.HEALTHY, 0.0, registered=True)
    return service, tasks, health, now


def test_never_starts_beyond_maximum_percent() -> None:
    for seed in SEEDS:
        service, tasks, health, now = random_situation(seed)
        plan = plan_service(service, tasks, health, now)
        in_use = sum(1 for t in tasks if not t.is_done)
        if plan.starts:
            assert in_use + len(plan.starts) <= service.max_tasks, seed


def test_never_runs_more_of_the_current_revision_than_desired() -> None:
    for seed in SEEDS:
        service, tasks, health, now = random_situation(seed)
        plan = plan_service(service, tasks, health, now)
        stopped = {s.task_id for s in plan.stops}
        current = [
            t
            for t in tasks
            if t.revision == service.revision
            and not t.is_done
            and not t.is_stopping
            and t.task_id not in stopped
        ]
        assert len(current) + len(plan.starts) <= max(service.desired_count, 0), seed


def test_plan_is_idempotent_and_ignores_input_order() -> None:
    for seed in SEEDS:
        service, tasks, health, now = random_situation(seed)
        first = plan_service(service, tasks, health, now)
        assert plan_service(service, tasks, health, now) == first, seed
        shuffled = list(tasks)
        random.Random(seed).shuffle(shuffled)
        assert plan_service(service, shuffled, dict(reversed(health.items())), now) == first, seed


def test_stops_never_take_ready_tasks_below_minimum_healthy_percent() -> None:
    for seed in SEEDS:
        service, tasks, health, now = random_situation(seed)
        ready = {
            t.task_id
            for t in tasks
            if not t.is_done
            and not t.is_stopping
            and assess(t, service.policy, health.get(t.task_id), now).readiness is Readiness.READY
        }
        plan = plan_service(service, tasks, health, now)
        kept = ready - {s.task_id for s in plan.stops}
        assert len(kept) >= min(len(ready), service.min_ready), seed


def test_actions_are_consistent() -> None:
    for seed in SEEDS:
        service, tasks, health, now = random_situation(seed)
        plan = plan_service(service, tasks, health, now)
        by_id = {t.task_id: t for t in tasks}
        stopped = [s.task_id for s in plan.stops]
        assert len(stopped) == len(set(stopped)), seed
        for task_id in stopped:
            assert not by_id[task_id].is_done and not by_id[task_id].is_stopping, seed
        registered = {a.task_id for a in plan.registers}
        deregistered = {a.task_id for a in plan.deregisters}
        assert not registered & deregistered, seed
        assert not registered & set(stopped), seed
        for action in plan.actions:
            if isinstance(action, RegisterTarget):
                assert by_id[action.task_id].last_status is TaskStatus.RUNNING, seed
                assert service.target_group is not None, seed
            if isinstance(action, StartTask):
                assert action.revision == service.revision, seed
        if plan.steady:
            assert plan.actions == (), seed


def test_any_situation_converges_to_a_steady_service() -> None:
    for seed in range(100):
        service, tasks, health, _ = random_situation(seed)
        world = World(service)
        for task in tasks:
            world.add(task, health.get(task.task_id))
        world.health.update({k: v for k, v in health.items() if k not in world.tasks})
        world.now = 100.0  # past every grace period and startup timeout
        limit = max(service.max_tasks, world.in_use())
        for _ in range(80):
            plan = plan_service(world.service, list(world.tasks.values()), world.health, world.now)
            world.apply(plan)
            assert world.in_use() <= limit, seed
            if plan.steady:
                break
            world.tick(50.0)
        if not plan.steady:  # only a deadlocked configuration may stay unsettled
            assert plan.blocked_reason is not None, seed
            assert service.max_tasks <= service.min_ready, seed
            continue
        live = world.live()
        assert len(live) == service.desired_count, seed
        assert all(t.revision == service.revision for t in live), seed
        if service.target_group:
            assert all(world.health[t.task_id].registered for t in live), seed
