"""The service scheduler, scenario by scenario."""

from __future__ import annotations

import pytest
from control_builders import World, lb, make_task, svc

from dockyard.control.readiness import ReplicaHealth
from dockyard.control.service import ELB_FIRST_VERDICT_S, plan_service, saved_state, service_state
from dockyard.control.service_actions import (
    DeregisterTarget,
    RegisterTarget,
    ServiceCounts,
    StartTask,
    StopTask,
)
from dockyard.control.task import DesiredStatus, HealthStatus, StopCode, TaskStatus
from dockyard.spec.service import parse_service

pytestmark = pytest.mark.unit

H, U, K = HealthStatus.HEALTHY, HealthStatus.UNHEALTHY, HealthStatus.UNKNOWN
RUNNING, PENDING = TaskStatus.RUNNING, TaskStatus.PENDING


def test_new_service_starts_desired_count_tasks() -> None:
    plan = plan_service(svc(desired_count=3), [], {}, 0.0)
    assert plan.actions == (StartTask("web:2"),) * 3
    assert not plan.steady
    assert plan.counts == ServiceCounts(desired=3, running=0, pending=0, ready=0)


def test_tasks_already_starting_are_not_started_again() -> None:
    tasks = [make_task("a", "web:2", status=PENDING), make_task("b", "web:2", status=PENDING)]
    plan = plan_service(svc(), tasks, {}, 1.0)
    assert plan.actions == ()
    assert plan.counts.pending == 2


def test_unchecked_tasks_count_as_ready_forty_seconds_after_running() -> None:
    tasks = [make_task("a", "web:2", started=0.0), make_task("b", "web:2", started=5.0)]
    early = plan_service(svc(), tasks, {}, 10.0)
    assert (early.actions, early.steady, early.next_check_at) == ((), False, 40.0)
    assert early.counts.ready == 0
    late = plan_service(svc(), tasks, {}, 45.0)
    assert late.steady
    assert late.events == ("(service web) has reached a steady state.",)


def test_steady_state_event_only_when_it_changes() -> None:
    tasks = [make_task("a", "web:2", check=H), make_task("b", "web:2", check=H)]
    plan = plan_service(svc(steady=True), tasks, {}, 1.0)
    assert plan.steady
    assert plan.events == ()


def test_ready_task_is_registered_with_the_target_group() -> None:
    service = svc(desired_count=1, target_group="tg")
    plan = plan_service(service, [make_task("a", "web:2")], {"a": lb(H)}, 1.0)
    assert plan.actions == (RegisterTarget("a", "tg"),)
    assert plan.events == ("(service web) registered 1 targets in (target-group tg)",)
    assert not plan.steady


def test_registered_ready_task_needs_nothing() -> None:
    service = svc(desired_count=1, target_group="tg")
    plan = plan_service(service, [make_task("a", "web:2")], {"a": lb(H, registered=True)}, 1.0)
    assert (plan.actions, plan.steady) == ((), True)


@pytest.mark.parametrize("health", [None, lb(K)])
def test_task_not_yet_checked_gets_no_traffic(health: ReplicaHealth | None) -> None:
    service = svc(desired_count=1, target_group="tg")
    table = {"a": health} if health else {}
    plan = plan_service(service, [make_task("a", "web:2")], table, 1.0)
    assert plan.actions == ()


def test_unhealthy_task_in_grace_is_drained_but_kept() -> None:
    service = svc(desired_count=1, target_group="tg", health_check_grace_period_s=60)
    health = {"a": lb(U, registered=True)}
    plan = plan_service(service, [make_task("a", "web:2", started=0.0)], health, 10.0)
    assert plan.actions == (DeregisterTarget("a", "tg"),)
    assert plan.next_check_at == 60.0


def test_unhealthy_task_after_grace_is_drained_stopped_and_replaced() -> None:
    service = svc(desired_count=1, target_group="tg", health_check_grace_period_s=60)
    health = {"a": lb(U, registered=True)}
    plan = plan_service(service, [make_task("a", "web:2", started=0.0)], health, 61.0)
    reason = "Task failed ELB health checks in (target-group tg)"
    assert plan.actions == (
        DeregisterTarget("a", "tg"),
        StopTask("a", reason, StopCode.SERVICE_SCHEDULER_INITIATED, failed=True),
        StartTask("web:2"),
    )
    assert plan.events[0].startswith("(service web) (task a) is unhealthy in (target-group tg)")
    assert "(service web) has stopped 1 running tasks: (task a)." in plan.events
    assert "(service web) deregistered 1 targets in (target-group tg)" in plan.events


def test_failing_container_health_check_replaces_the_task() -> None:
    plan = plan_service(svc(desired_count=1), [make_task("a", "web:2", check=U)], {}, 1.0)
    assert plan.stops == (StopTask("a", "Task failed container health checks", failed=True),)
    assert plan.starts == (StartTask("web:2"),)


def test_task_that_never_passes_within_the_startup_timeout_is_replaced() -> None:
    service = svc(desired_count=1, target_group="tg", startup_timeout_s=120)
    tasks = [make_task("a", "web:2", created=0.0)]
    assert plan_service(service, tasks, {"a": lb(K)}, 119.0).actions == ()
    plan = plan_service(service, tasks, {"a": lb(K)}, 120.0)
    assert [s.task_id for s in plan.stops] == ["a"]
    assert plan.stops[0].failed
    assert plan.starts == (StartTask("web:2"),)


def test_stopped_task_is_deregistered_and_replaced() -> None:
    service = svc(desired_count=1, target_group="tg")
    tasks = [make_task("a", "web:2", status=TaskStatus.STOPPED)]
    plan = plan_service(service, tasks, {"a": lb(H, registered=True)}, 1.0)
    assert plan.actions == (DeregisterTarget("a", "tg"), StartTask("web:2"))


def test_stopped_unregistered_task_is_just_replaced() -> None:
    tasks = [make_task("a", "web:2", status=TaskStatus.STOPPED)]
    assert plan_service(svc(desired_count=1), tasks, {}, 1.0).actions == (StartTask("web:2"),)


def test_registered_target_without_a_task_is_deregistered() -> None:
    service = svc(desired_count=0, target_group="tg")
    plan = plan_service(service, [], {"ghost": lb(H, registered=True)}, 1.0)
    assert plan.actions == (DeregisterTarget("ghost", "tg"),)


def test_stopping_task_is_deregistered_but_not_stopped_again() -> None:
    service = svc(desired_count=1, target_group="tg")
    stopping = make_task("a", "web:2", desired=DesiredStatus.STOPPED)
    plan = plan_service(service, [stopping], {"a": lb(H, registered=True)}, 1.0)
    assert plan.deregisters == (DeregisterTarget("a", "tg"),)
    assert plan.stops == ()


def test_scale_in_stops_the_newest_tasks() -> None:
    tasks = [make_task(i, "web:2", created=c, check=H) for i, c in (("a", 1), ("b", 2), ("c", 3))]
    plan = plan_service(svc(desired_count=1), tasks, {}, 10.0)
    reason = "Scaling activity initiated by (deployment web:2)"
    assert plan.actions == (StopTask("b", reason), StopTask("c", reason))
    assert plan.events == ("(service web) has stopped 2 running tasks: (task b) (task c).",)


def test_scale_in_stops_tasks_that_are_not_ready_first() -> None:
    tasks = [
        make_task("old", "web:2", created=1, check=H),
        make_task("new", "web:2", created=2, check=H),
        make_task("slow", "web:2", created=0, check=K),
        make_task("starting", "web:2", status=PENDING, created=3),
    ]
    plan = plan_service(svc(desired_count=2), tasks, {}, 10.0)
    assert [s.task_id for s in plan.stops] == ["slow", "starting"]
    assert "(service web) has stopped 1 pending tasks: (task starting)." in plan.events


def test_scaling_to_zero_stops_everything_then_is_steady() -> None:
    tasks = [make_task("a", "web:2", check=H)]
    assert [s.task_id for s in plan_service(svc(desired_count=0), tasks, {}, 1.0).stops] == ["a"]
    assert plan_service(svc(desired_count=0), [], {}, 2.0).steady


def test_rolling_deploy_starts_new_tasks_before_stopping_old_ones() -> None:
    tasks = [make_task("a", "web:1", check=H), make_task("b", "web:1", check=H)]
    plan = plan_service(svc(desired_count=2), tasks, {}, 1.0)
    assert plan.actions == (StartTask("web:2"), StartTask("web:2"))


def test_rolling_deploy_stops_old_tasks_once_new_ones_are_ready() -> None:
    tasks = [make_task(i, "web:1", created=0, check=H) for i in ("a", "b")]
    tasks += [make_task(i, "web:2", created=5, check=H) for i in ("c", "d")]
    plan = plan_service(svc(desired_count=2), tasks, {}, 10.0)
    assert [s.task_id for s in plan.stops] == ["a", "b"]
    assert plan.starts == ()


def test_old_tasks_that_are_not_ready_are_stopped_at_once() -> None:
    tasks = [make_task("a", "web:1", check=K), make_task("b", "web:1", status=PENDING)]
    plan = plan_service(svc(desired_count=2), tasks, {}, 1.0)
    assert [s.task_id for s in plan.stops] == ["a", "b"]
    assert plan.starts == (StartTask("web:2"), StartTask("web:2"))


def test_no_room_means_no_start_until_old_tasks_are_stopped() -> None:
    service = svc(desired_count=2, minimum_healthy_percent=50, maximum_percent=100)
    tasks = [make_task(i, "web:1", created=0, check=H) for i in ("a", "b")]
    plan = plan_service(service, tasks, {}, 1.0)
    assert [s.task_id for s in plan.stops] == ["a"]
    assert plan.starts == ()
    stopping = [make_task("a", "web:1", check=H, desired=DesiredStatus.STOPPED), tasks[1]]
    assert plan_service(service, stopping, {}, 2.0).actions == ()


def test_a_deployment_with_no_room_to_move_says_why() -> None:
    service = svc(desired_count=1, minimum_healthy_percent=100, maximum_percent=100)
    plan = plan_service(service, [make_task("a", "web:1", check=H)], {}, 1.0)
    assert plan.actions == ()
    assert plan.blocked_reason is not None
    assert "raise maximumPercent or lower minimumHealthyPercent" in plan.blocked_reason
    assert (
        plan_service(
            svc(desired_count=1), [make_task("a", "web:1", check=H)], {}, 1.0
        ).blocked_reason
        is None
    )


def test_actions_come_in_execution_order_registering_before_draining() -> None:
    service = svc(desired_count=2, target_group="tg")
    tasks = [
        make_task("bad", "web:2", created=0, check=U),
        make_task("good", "web:2", created=1, check=H),
    ]
    health = {"bad": lb(H, registered=True), "good": lb(H)}
    kinds = [type(a) for a in plan_service(service, tasks, health, 5.0).actions]
    assert kinds == [RegisterTarget, DeregisterTarget, StopTask, StartTask]


def test_rollout_registers_the_new_targets_before_draining_the_old() -> None:
    service = svc(desired_count=1, target_group="tg", revision="web:2")
    tasks = [
        make_task("old", "web:1", created=0, check=H),
        make_task("new", "web:2", created=1, check=H),
    ]
    health = {"old": lb(H, registered=True), "new": lb(H)}
    actions = plan_service(service, tasks, health, 5.0).actions
    assert actions[:2] == (RegisterTarget("new", "tg"), DeregisterTarget("old", "tg"))


def test_the_same_inputs_give_the_same_plan() -> None:
    service = svc(desired_count=3, target_group="tg")
    tasks = [make_task("a", "web:1", check=H), make_task("b", "web:2", status=PENDING)]
    health = {"a": lb(H, registered=True)}
    assert plan_service(service, tasks, health, 3.0) == plan_service(service, tasks, health, 3.0)
    assert plan_service(service, tasks[::-1], health, 3.0) == plan_service(
        service, tasks, health, 3.0
    )


def test_counts_follow_ecs() -> None:
    tasks = [
        make_task("a", "web:2", check=H),
        make_task("b", "web:2", check=K),
        make_task("c", "web:2", status=PENDING),
        make_task("d", "web:2", status=TaskStatus.STOPPED),
    ]
    assert plan_service(svc(desired_count=3), tasks, {}, 1.0).counts == ServiceCounts(
        desired=3, running=2, pending=1, ready=1
    )


def test_service_state_from_a_create_service_request() -> None:
    spec = parse_service(
        {
            "serviceName": "web",
            "taskDefinition": "web",
            "desiredCount": 3,
            "healthCheckGracePeriodSeconds": 90,
            "deploymentConfiguration": {"minimumHealthyPercent": 50, "maximumPercent": 150},
            "loadBalancers": [{"targetGroupArn": "tg", "containerName": "a", "containerPort": 80}],
        }
    )
    state = service_state(spec, "web:7", steady=True)
    assert (state.name, state.revision, state.desired_count) == ("web", "web:7", 3)
    assert (state.min_ready, state.max_tasks) == (2, 4)
    assert (state.health_check_grace_period_s, state.target_group, state.steady) == (
        90.0,
        "tg",
        True,
    )


def test_a_load_balanced_task_is_judged_no_sooner_than_an_alb_would() -> None:
    balanced = {"targetGroupArn": "tg", "containerName": "a", "containerPort": 80}
    base = {"serviceName": "web", "taskDefinition": "web", "desiredCount": 1}
    behind = parse_service({**base, "loadBalancers": [balanced]})
    alone = parse_service(base)
    assert service_state(behind, "web:1").health_check_grace_period_s == ELB_FIRST_VERDICT_S
    assert service_state(alone, "web:1").health_check_grace_period_s == 0.0


@pytest.mark.parametrize(
    ("desired", "minimum", "maximum", "min_ready", "max_tasks"),
    [
        (4, 100, 200, 4, 8),
        (3, 50, 150, 2, 4),
        (1, 50, 100, 1, 1),
        (5, 0, 100, 0, 5),
        (0, 100, 200, 0, 0),
    ],
)
def test_percentages_round_as_ecs_does(
    desired: int, minimum: int, maximum: int, min_ready: int, max_tasks: int
) -> None:
    state = svc(desired_count=desired, minimum_healthy_percent=minimum, maximum_percent=maximum)
    assert (state.min_ready, state.max_tasks) == (min_ready, max_tasks)


# --- whole rollouts, simulated ---------------------------------------------------------


def run(world: World, ticks: int = 60) -> World:
    for _ in range(ticks):
        plan = plan_service(world.service, list(world.tasks.values()), world.health, world.now)
        world.history.append(plan)
        world.apply(plan)
        if plan.steady:
            break
        world.tick()
    return world


@pytest.mark.parametrize(("minimum", "maximum"), [(100, 200), (50, 100), (0, 100), (50, 150)])
def test_rolling_deploy_completes_within_its_bounds(minimum: int, maximum: int) -> None:
    service = svc(
        desired_count=4, target_group="tg", minimum_healthy_percent=minimum, maximum_percent=maximum
    )
    world = World(service)
    for i in range(4):
        world.add(make_task(f"o{i}", "web:1"), lb(H, registered=True))
    run(world)
    assert world.history[-1].steady
    live = world.live()
    assert len(live) == 4 and all(t.revision == "web:2" for t in live)
    assert all(world.health[t.task_id].registered for t in live)
    assert not any(
        world.health.get(t.task_id, ReplicaHealth()).registered
        for t in world.tasks.values()
        if t.is_done
    )


def test_bad_revision_never_takes_down_the_old_tasks() -> None:
    service = svc(desired_count=2, target_group="tg", startup_timeout_s=5)
    world = World(service, bad_revisions=frozenset({"web:2"}))
    for i in range(2):
        world.add(make_task(f"o{i}", "web:1"), lb(H, registered=True))
    run(world, ticks=30)
    old = [t for t in world.live() if t.revision == "web:1"]
    assert len(old) == 2
    assert all(world.health[t.task_id].registered for t in old)
    assert any(s.failed for plan in world.history for s in plan.stops)
    assert not world.history[-1].steady


def test_crashed_task_is_replaced_and_the_service_settles_again() -> None:
    world = World(svc(desired_count=2, target_group="tg", steady=True))
    for i in range(2):
        world.add(make_task(f"t{i}", "web:2"), lb(H, registered=True))
    world.tasks["t0"] = make_task("t0", "web:2", status=TaskStatus.STOPPED)
    run(world)
    assert world.history[-1].steady
    assert world.history[-1].events == ("(service web) has reached a steady state.",)
    assert world.history[0].actions == (DeregisterTarget("t0", "tg"), StartTask("web:2"))


def test_saving_a_new_revision_or_count_is_a_change_and_not_steady() -> None:
    current = svc(steady=True)
    assert saved_state(current, svc(revision="web:3"))[1]
    assert saved_state(current, svc(desired_count=3))[1]
    assert saved_state(None, svc()) == (svc(steady=False), True)


def test_saving_the_same_service_again_keeps_its_steady_verdict() -> None:
    state, changed = saved_state(svc(steady=True), svc())
    assert (state.steady, changed) == (True, False)
