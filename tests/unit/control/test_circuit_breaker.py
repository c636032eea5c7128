"""The deployment circuit breaker (pure): counting, threshold, reset, rollback, halt.

Ends with a simulated service of 1,000 tasks updated to a revision whose containers
exit at start: the breaker trips at ECS's threshold (200), the service is back on the
deployment that had completed, and not one of its tasks was stopped on the way.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from control_builders import make_task, svc

from dockyard.control.circuit_breaker import (
    FAILED_REASON,
    judge,
    launch_failed,
    rollback_target,
    rolling_back_reason,
    tally,
)
from dockyard.control.deployments import Deployment, RolloutState, next_deployments
from dockyard.control.service import ServiceState, plan_service
from dockyard.control.task import HealthStatus, StopCode, Task, TaskStatus, request_stop
from dockyard.spec.service import DeploymentCircuitBreaker

pytestmark = pytest.mark.unit

OLD = Deployment("ecs-svc/1", "web:1", 0.0, 0.0, rollout_state=RolloutState.COMPLETED)
NEW = Deployment("ecs-svc/2", "web:2", 10.0, 10.0)


def breaker(
    *, rollback: bool = True, reset: bool = True, **threshold: object
) -> DeploymentCircuitBreaker:
    doc: dict[str, object] = {"enable": True, "rollback": rollback, "resetOnHealthyTask": reset}
    if threshold:
        doc["thresholdConfiguration"] = threshold
    return DeploymentCircuitBreaker.model_validate(doc)


def task(task_id: str, deployment: Deployment = NEW, **kwargs: object) -> Task:
    made = make_task(task_id, deployment.revision, **kwargs)  # type: ignore[arg-type]
    return replace(made, deployment=deployment.id)


def exited(task_id: str, deployment: Deployment = NEW) -> Task:
    """A task whose essential container exited as it started."""
    started = task(task_id, deployment)
    return request_stop(started, StopCode.ESSENTIAL_CONTAINER_EXITED, "exited", 1.0)


def state(deployment: Deployment = NEW, desired: int = 2) -> ServiceState:
    return svc(revision=deployment.revision, deployment=deployment.id, desired_count=desired)


# -- counting ---------------------------------------------------------------------------------


def test_a_task_that_exited_or_failed_to_start_is_a_failed_launch() -> None:
    assert launch_failed(exited("a"), failed_stops=())
    failed_start = request_stop(task("b"), StopCode.TASK_FAILED_TO_START, "no image", 1.0)
    assert launch_failed(failed_start, failed_stops=())
    assert launch_failed(task("c"), failed_stops={"c"})  # the plan stops it: failed checks
    scaled_in = request_stop(task("d"), StopCode.SERVICE_SCHEDULER_INITIATED, "scale", 1.0)
    assert not launch_failed(scaled_in, failed_stops=())
    user = request_stop(task("e"), StopCode.USER_INITIATED, "StopTask", 1.0)
    assert not launch_failed(user, failed_stops=())


def test_each_failed_task_counts_once_however_many_passes_see_it() -> None:
    tasks = [exited("a"), exited("b"), task("c")]
    once = tally(NEW, tasks, failed_stops=(), ready=())
    twice = tally(once, tasks, failed_stops=(), ready=())
    assert once.failed_tasks == twice.failed_tasks == 2
    assert set(twice.counted) == {"a", "b"}


def test_tasks_of_other_deployments_do_not_count() -> None:
    counted = tally(NEW, [exited("a", OLD), exited("b")], failed_stops=(), ready=())
    assert counted.failed_tasks == 1


def test_reaped_tasks_are_forgotten_but_the_count_stays() -> None:
    counted = tally(NEW, [exited("a"), exited("b")], failed_stops=(), ready=())
    later = tally(counted, [exited("c")], failed_stops=(), ready=())
    assert later.failed_tasks == 3
    assert later.counted == ("c",)


def test_a_task_that_was_healthy_is_no_failed_launch_when_it_stops() -> None:
    healthy = tally(NEW, [task("a")], failed_stops=(), ready={"a"})
    crashed = tally(healthy, [exited("a")], failed_stops=(), ready=())
    assert crashed.failed_tasks == 0


# -- reset ------------------------------------------------------------------------------------


def test_a_task_that_turns_healthy_resets_the_count_once() -> None:
    two = tally(NEW, [exited("a"), exited("b"), task("c")], failed_stops=(), ready=())
    assert two.failed_tasks == 2
    reset = tally(two, [exited("a"), exited("b"), task("c")], failed_stops=(), ready={"c"})
    assert reset.failed_tasks == 0
    # still healthy next pass: no second reset, new failures count again
    more = tally(reset, [task("c"), exited("d")], failed_stops=(), ready={"c"})
    assert more.failed_tasks == 1


def test_without_reset_on_healthy_task_the_count_keeps_growing() -> None:
    two = tally(NEW, [exited("a"), exited("b"), task("c")], failed_stops=(), ready=())
    kept = tally(
        two, [task("c"), exited("d")], failed_stops=(), ready={"c"}, reset_on_healthy_task=False
    )
    assert kept.failed_tasks == 3


# -- threshold --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "expected"), [(1, 3), (2, 3), (6, 3), (8, 4), (100, 50), (1000, 200)]
)
def test_the_default_threshold_is_half_the_desired_count_within_3_to_200(
    desired: int, expected: int
) -> None:
    assert breaker().failure_threshold(desired) == expected


def test_the_breaker_trips_at_the_threshold_not_before() -> None:
    deployments = (OLD, NEW)
    below = judge(
        deployments,
        state(),
        [exited("a"), exited("b")],
        breaker=breaker(),
        failed_stops=(),
        ready=(),
        steady=False,
        now=20.0,
    )
    assert not below.tripped
    assert below.deployments[-1].failed_tasks == 2
    at = judge(
        below.deployments,
        state(),
        [exited("a"), exited("b"), exited("c")],
        breaker=breaker(),
        failed_stops=(),
        ready=(),
        steady=False,
        now=21.0,
    )
    assert at.tripped


def test_a_count_threshold_is_taken_as_written() -> None:
    one = breaker(type="COUNT", value=1)
    tripped = judge(
        (OLD, NEW),
        state(),
        [exited("a")],
        breaker=one,
        failed_stops=(),
        ready=(),
        steady=False,
        now=20.0,
    )
    assert tripped.tripped


def test_a_disabled_breaker_counts_but_never_trips() -> None:
    off = DeploymentCircuitBreaker.model_validate({"enable": False, "rollback": True})
    tasks = [exited(str(i)) for i in range(10)]
    judged = judge(
        (OLD, NEW), state(), tasks, breaker=off, failed_stops=(), ready=(), steady=False, now=20.0
    )
    assert not judged.tripped
    assert judged.deployments[-1].failed_tasks == 10


def test_a_completed_deployment_is_no_longer_watched() -> None:
    done = judge(
        (OLD, NEW),
        state(),
        [task("a"), task("b")],
        breaker=breaker(),
        failed_stops=(),
        ready={"a", "b"},
        steady=True,
        now=20.0,
    )
    assert done.deployments[-1].rollout_state is RolloutState.COMPLETED
    later = judge(
        done.deployments,
        state(),
        [exited(str(i)) for i in range(5)],
        breaker=breaker(),
        failed_stops=(),
        ready=(),
        steady=False,
        now=30.0,
    )
    assert not later.tripped
    assert later.deployments == done.deployments


# -- what a trip does -------------------------------------------------------------------------


def tripped(*, rollback: bool, deployments: tuple[Deployment, ...] = (OLD, NEW)) -> object:
    tasks = [exited("a"), exited("b"), exited("c")]
    return judge(
        deployments,
        state(),
        tasks,
        breaker=breaker(rollback=rollback),
        failed_stops=(),
        ready=(),
        steady=False,
        now=20.0,
    )


def test_with_rollback_the_last_completed_deployment_is_primary_again() -> None:
    judged = judge(
        (OLD, NEW),
        state(),
        [exited("a"), exited("b"), exited("c")],
        breaker=breaker(),
        failed_stops=(),
        ready=(),
        steady=False,
        now=20.0,
    )
    failed, back = judged.deployments[-2:]
    assert failed.id == NEW.id
    assert failed.rollout_state is RolloutState.FAILED
    assert failed.rollout_state_reason == FAILED_REASON
    assert failed.failed_tasks == 3
    assert back.id == OLD.id
    assert back.rollout_state is RolloutState.IN_PROGRESS
    assert back.rollout_state_reason == rolling_back_reason(OLD.id)
    assert (judged.state.revision, judged.state.deployment) == ("web:1", OLD.id)
    assert not judged.state.halted
    assert judged.events == (
        "(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start.",
        "(service web) rolling back to deployment ecs-svc/1.",
    )


def test_without_rollback_the_service_halts_on_the_failed_deployment() -> None:
    judged = judge(
        (OLD, NEW),
        state(),
        [exited("a"), exited("b"), exited("c")],
        breaker=breaker(rollback=False),
        failed_stops=(),
        ready=(),
        steady=False,
        now=20.0,
    )
    assert judged.deployments[-1].rollout_state is RolloutState.FAILED
    assert judged.state.halted
    assert judged.state.deployment == NEW.id
    assert len(judged.events) == 1


def test_with_nothing_completed_to_go_back_to_the_service_halts() -> None:
    unfinished = replace(OLD, rollout_state=RolloutState.IN_PROGRESS)
    judged = judge(
        (unfinished, NEW),
        state(),
        [exited("a"), exited("b"), exited("c")],
        breaker=breaker(),
        failed_stops=(),
        ready=(),
        steady=False,
        now=20.0,
    )
    assert judged.state.halted


def test_the_rollback_target_is_the_most_recent_completed_one() -> None:
    older = replace(OLD, id="ecs-svc/0", revision="web:0")
    failed = replace(OLD, id="ecs-svc/9", rollout_state=RolloutState.FAILED)
    assert rollback_target((older, OLD, failed)) == OLD
    assert rollback_target((failed,)) is None
    assert rollback_target(()) is None


def test_a_halted_service_launches_and_retires_nothing() -> None:
    halted = replace(state(), halted=True)
    old = [task(f"o{i}", OLD, check=HealthStatus.HEALTHY) for i in range(2)]
    plan = plan_service(halted, old, {}, 100.0)
    assert not plan.starts
    assert not plan.stops
    assert plan.steady
    assert not plan.events  # no "steady state" for a failed deployment


def test_a_failed_primary_keeps_failed_when_superseded() -> None:
    failed = replace(NEW, rollout_state=RolloutState.FAILED, rollout_state_reason=FAILED_REASON)
    after, began = next_deployments(
        (OLD, failed), "web:3", force=False, steady=True, now=30.0, new_id="ecs-svc/3"
    )
    assert began
    assert after[1].rollout_state is RolloutState.FAILED


# -- 1,000 tasks ------------------------------------------------------------------------------


class Fleet:
    """A service's tasks advanced by applying plans; web:2's containers exit at start."""

    def __init__(self, service: ServiceState, deployments: tuple[Deployment, ...]) -> None:
        self.service = service
        self.deployments = deployments
        self.tasks: dict[str, Task] = {}
        self.now = 100.0
        self.counter = 0
        self.stopped_old: set[str] = set()

    def add_old(self, count: int) -> None:
        for _ in range(count):
            self.counter += 1
            made = task(f"t{self.counter}", OLD, check=HealthStatus.HEALTHY)
            self.tasks[made.task_id] = made

    def step(self) -> None:
        live = [t for t in self.tasks.values() if not t.is_done]
        plan = plan_service(self.service, live, {}, self.now)
        judged = judge(
            self.deployments,
            self.service,
            list(self.tasks.values()),
            breaker=breaker(),
            failed_stops={s.task_id for s in plan.stops if s.failed},
            ready=set(plan.ready),
            steady=plan.steady,
            now=self.now,
        )
        self.deployments = judged.deployments
        if judged.state != self.service:
            self.service = judged.state
            plan = plan_service(self.service, live, {}, self.now)
        self.service = replace(self.service, steady=plan.steady)
        for stop in plan.stops:
            if self.tasks[stop.task_id].revision == "web:1":
                self.stopped_old.add(stop.task_id)
            self.tasks[stop.task_id] = request_stop(
                self.tasks[stop.task_id], stop.stop_code, stop.reason, self.now
            )
        for start in plan.starts:
            self.counter += 1
            made = make_task(
                f"t{self.counter}",
                start.revision,
                status=TaskStatus.PENDING,
                created=self.now,
                check=HealthStatus.UNKNOWN,
            )
            self.tasks[made.task_id] = replace(made, deployment=start.deployment)
        self.now += 1.0
        self._advance()

    def _advance(self) -> None:
        for task_id, current in list(self.tasks.items()):
            if current.is_done:
                del self.tasks[task_id]  # reaped
            elif current.is_stopping:
                self.tasks[task_id] = replace(
                    current, last_status=TaskStatus.STOPPED, stopped_at=self.now
                )
            elif current.last_status is TaskStatus.PENDING and current.revision == "web:2":
                self.tasks[task_id] = request_stop(
                    current, StopCode.ESSENTIAL_CONTAINER_EXITED, "exited", self.now
                )
            elif current.last_status is TaskStatus.PENDING:
                healthy = tuple(
                    replace(c, health=HealthStatus.HEALTHY, first_healthy_at=self.now)
                    for c in current.containers
                )
                self.tasks[task_id] = replace(
                    current, last_status=TaskStatus.RUNNING, started_at=self.now, containers=healthy
                )


def test_a_failing_deploy_of_1000_tasks_trips_at_200_and_converges_back() -> None:
    # maximumPercent 110: 100 new tasks at a time, so failures accumulate over passes
    fleet = Fleet(replace(state(NEW, desired=1000), maximum_percent=110), (OLD, NEW))
    fleet.add_old(1000)
    old = set(fleet.tasks)

    for _ in range(50):
        fleet.step()
        if fleet.service.steady:
            break

    failed, back = fleet.deployments[-2:]
    assert failed.rollout_state is RolloutState.FAILED
    assert failed.failed_tasks == 200  # 0.5 x 1000, clamped to 200
    assert back.id == OLD.id
    assert back.rollout_state is RolloutState.COMPLETED
    assert fleet.service.steady
    assert fleet.service.revision == "web:1"
    assert not fleet.stopped_old  # minimumHealthyPercent 100 kept every old task
    live = {t.task_id for t in fleet.tasks.values() if not t.is_done}
    assert live == old
