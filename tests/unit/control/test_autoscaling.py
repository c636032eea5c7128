"""Application Auto Scaling's decisions, without I/O: target tracking, cooldowns,
min/max, scale-in disabled, step scaling, and a load spike over many ticks at 1,000 tasks."""

from __future__ import annotations

import itertools
import math

import pytest

from dockyard.control.autoscaling import (
    AdjustmentType,
    Capacity,
    Comparison,
    Direction,
    MetricType,
    Policy,
    Reading,
    StepAdjustment,
    StepAlarm,
    StepScaling,
    TargetTracking,
    check_steps,
    cpu_utilization,
    decide,
    memory_utilization,
    requests_per_target,
    step_for,
)

pytestmark = pytest.mark.unit

CPU = MetricType.CPU
NOW = 10_000.0


def tracking(target: float = 50.0, **extra: object) -> Policy:
    return Policy("cpu", target_tracking=TargetTracking(CPU, target, **extra))  # type: ignore[arg-type]


def cpu(short: float, tasks: int, long: float | None = None) -> dict[MetricType, Reading]:
    return {CPU: Reading(short, short if long is None else long, tasks, short, short)}


def capacity(desired: int, low: int = 1, high: int = 10, **clocks: float) -> Capacity:
    return Capacity(low, high, desired, **clocks)


def test_units_follow_aas_definitions() -> None:
    assert cpu_utilization(50.0, 1024) == 50.0  # half a core of a 1-vCPU task
    assert cpu_utilization(50.0, 512) == 100.0  # half a core is all of 0.5 vCPU
    assert cpu_utilization(150.0, None) == 150.0  # no size: % of one core
    assert memory_utilization(1024.0, 2048) == 50.0
    assert memory_utilization(1024.0, None) is None
    assert requests_per_target(10.0, 2) == 300.0  # 600 requests a minute over 2 targets
    assert requests_per_target(10.0, 0) is None


@pytest.mark.parametrize(
    ("tasks", "metric", "target", "expected"),
    [(2, 100.0, 50.0, 4), (2, 70.0, 50.0, 3), (3, 51.0, 50.0, 4), (1, 400.0, 70.0, 6)],
)
def test_scale_out_is_ceil_of_tasks_times_metric_over_target(
    tasks: int, metric: float, target: float, expected: int
) -> None:
    decision = decide(capacity(tasks), [tracking(target)], cpu(metric, tasks), NOW)
    assert decision.desired == expected == math.ceil(tasks * metric / target)
    assert decision.direction is Direction.OUT
    assert decision.policy == "cpu"
    assert f"Successfully set desired count to {expected}." in decision.reason
    assert "Change successfully fulfilled by ecs." in decision.reason


def test_metric_at_target_changes_nothing() -> None:
    decision = decide(capacity(2), [tracking(50)], cpu(50.0, 2), NOW)
    assert not decision.changes and decision.desired == 2


def test_scale_out_is_capped_by_max_capacity_and_says_so() -> None:
    decision = decide(capacity(2, high=3), [tracking(50)], cpu(100.0, 2), NOW)
    assert decision.desired == 3
    assert "capped by MaxCapacity" in decision.reason


def test_at_max_capacity_a_breach_changes_nothing() -> None:
    decision = decide(capacity(3, high=3), [tracking(50)], cpu(100.0, 3), NOW)
    assert not decision.changes
    assert "already at MaxCapacity 3" in decision.reason


def test_a_count_outside_min_max_is_brought_inside_without_metrics() -> None:
    up = decide(capacity(0, low=2), [tracking()], {}, NOW)
    down = decide(capacity(12, high=5), [tracking()], {}, NOW)
    assert (up.desired, up.direction) == (2, Direction.OUT)
    assert "below MinCapacity 2" in up.reason
    assert (down.desired, down.direction) == (5, Direction.IN)


def test_no_data_means_no_decision() -> None:
    decision = decide(capacity(2), [tracking()], {}, NOW)
    assert not decision.changes
    assert "no ECSServiceAverageCPUUtilization data" in decision.reason


def test_scale_out_waits_for_its_cooldown() -> None:
    policy = tracking(50, scale_out_cooldown_s=60)
    cooling = decide(capacity(2, last_scale_out_at=NOW - 30), [policy], cpu(100.0, 2), NOW)
    cooled = decide(capacity(2, last_scale_out_at=NOW - 60), [policy], cpu(100.0, 2), NOW)
    assert not cooling.changes and "scale-out cooldown, 30 s left" in cooling.reason
    assert cooled.desired == 4


def test_default_cooldowns_are_aas_300_seconds() -> None:
    config = TargetTracking(CPU, 50.0)
    assert (config.scale_out_cooldown_s, config.scale_in_cooldown_s) == (300, 300)
    assert StepScaling(StepAlarm(CPU, 70), (StepAdjustment(1, 0.0),)).cooldown_s == 300


def test_scale_in_keeps_the_metric_below_the_target_with_headroom() -> None:
    # 10 tasks at 20 % of a 50 % target: 4 tasks would run at exactly 50 %; AAS is
    # more careful, so the count keeps the metric at most 90 % of the target
    decision = decide(capacity(10), [tracking(50, scale_in_cooldown_s=0)], cpu(20.0, 10), NOW)
    assert decision.direction is Direction.IN
    assert decision.desired == math.ceil(10 * 20 / 45) == 5


def test_scale_in_reads_the_long_window() -> None:
    policy = tracking(50, scale_in_cooldown_s=0)
    # idle now, but busy over the last minute: no scale-in yet
    decision = decide(capacity(4), [policy], cpu(5.0, 4, long=45.0), NOW)
    assert not decision.changes


def test_scale_in_waits_for_every_desired_task_to_be_measured() -> None:
    decision = decide(capacity(4), [tracking(50, scale_in_cooldown_s=0)], cpu(10.0, 2), NOW)
    assert not decision.changes and "not measured yet" in decision.reason


def test_scale_in_waits_for_its_cooldown_after_any_activity() -> None:
    policy = tracking(50, scale_in_cooldown_s=300)
    after_out = decide(capacity(4, last_scale_out_at=NOW - 100), [policy], cpu(10.0, 4), NOW)
    after_in = decide(capacity(4, last_scale_in_at=NOW - 299), [policy], cpu(10.0, 4), NOW)
    cooled = decide(capacity(4, last_scale_in_at=NOW - 300), [policy], cpu(10.0, 4), NOW)
    assert not after_out.changes and "scale-in cooldown, 200 s left" in after_out.reason
    assert not after_in.changes
    assert cooled.direction is Direction.IN


def test_scale_in_disabled_never_removes_tasks() -> None:
    policy = tracking(50, disable_scale_in=True, scale_in_cooldown_s=0)
    idle = decide(capacity(8), [policy], cpu(1.0, 8), NOW)
    busy = decide(capacity(8), [policy], cpu(100.0, 8), NOW)
    assert not idle.changes and "scale-in disabled" in idle.reason
    assert busy.desired == 10  # scale-out still works (capped at max)


def test_scale_in_stops_at_min_capacity() -> None:
    decision = decide(capacity(5, low=3), [tracking(50, scale_in_cooldown_s=0)], cpu(1.0, 5), NOW)
    assert decision.desired == 3


def test_largest_scale_out_of_several_policies_wins() -> None:
    memory = Policy("mem", target_tracking=TargetTracking(MetricType.MEMORY, 50.0))
    readings = {**cpu(75.0, 2), MetricType.MEMORY: Reading(150.0, 150.0, 2)}
    decision = decide(capacity(2), [tracking(50), memory], readings, NOW)
    assert (decision.desired, decision.policy) == (6, "mem")


def test_scale_in_needs_every_policy_to_agree() -> None:
    memory = Policy("mem", target_tracking=TargetTracking(MetricType.MEMORY, 50.0))
    quiet_cpu = tracking(50, scale_in_cooldown_s=0)
    readings = {**cpu(5.0, 4), MetricType.MEMORY: Reading(50.0, 50.0, 4)}
    assert not decide(capacity(4), [quiet_cpu, memory], readings, NOW).changes


# -- step scaling -----------------------------------------------------------------------------

STEPS = (
    StepAdjustment(1, lower=0.0, upper=15.0),
    StepAdjustment(2, lower=15.0, upper=25.0),
    StepAdjustment(4, lower=25.0),
)


def stepping(adjustment: AdjustmentType = AdjustmentType.CHANGE, **extra: object) -> Policy:
    config = StepScaling(StepAlarm(CPU, 70.0), STEPS, adjustment_type=adjustment, **extra)  # type: ignore[arg-type]
    return Policy("steps", step=config)


@pytest.mark.parametrize(("metric", "added"), [(70.0, 1), (84.9, 1), (85.0, 2), (95.0, 4)])
def test_step_adds_the_adjustment_of_the_interval_the_breach_falls_in(
    metric: float, added: int
) -> None:
    decision = decide(capacity(3), [stepping()], cpu(metric, 3), NOW)
    assert decision.desired == 3 + added
    assert "in ALARM" in decision.reason


def test_no_breach_no_step() -> None:
    decision = decide(capacity(3), [stepping()], cpu(69.9, 3), NOW)
    assert not decision.changes and "alarm OK" in decision.reason


def test_step_waits_for_its_own_cooldown() -> None:
    policy = Policy("steps", step=stepping().step, last_activity_at=NOW - 10)
    assert not decide(capacity(3), [policy], cpu(95.0, 3), NOW).changes


def test_percent_change_rounds_and_honours_min_adjustment_magnitude() -> None:
    plain = stepping(AdjustmentType.PERCENT)  # +1 % of 3 tasks rounds up to one task
    assert decide(capacity(3), [plain], cpu(75.0, 3), NOW).desired == 4
    magnified = stepping(AdjustmentType.PERCENT, min_adjustment_magnitude=3)
    assert decide(capacity(3, high=20), [magnified], cpu(75.0, 3), NOW).desired == 6


def test_exact_capacity_sets_the_count() -> None:
    decision = decide(capacity(3), [stepping(AdjustmentType.EXACT)], cpu(95.0, 3), NOW)
    assert decision.desired == 4


def test_a_scale_in_step_below_a_low_threshold() -> None:
    config = StepScaling(
        StepAlarm(CPU, 20.0, Comparison.LE), (StepAdjustment(-1, upper=0.0),), cooldown_s=0
    )
    decision = decide(capacity(4), [Policy("low", step=config)], cpu(10.0, 4), NOW)
    assert (decision.desired, decision.direction) == (3, Direction.IN)


def test_step_intervals_hold_lower_bound_above_and_upper_bound_below() -> None:
    below = (StepAdjustment(-2, upper=-10.0), StepAdjustment(-1, lower=-10.0, upper=0.0))
    assert step_for(STEPS, 0.0) == STEPS[0]
    assert step_for(STEPS, 15.0) == STEPS[1]
    assert step_for(below, -9.5) == below[1]
    assert step_for(below, -10.0) == below[0]


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ((), "at least one"),
        ((StepAdjustment(1),), "needs MetricIntervalLowerBound or"),
        ((StepAdjustment(1, 0.0, 10.0), StepAdjustment(2, 20.0)), "without gap or overlap"),
        ((StepAdjustment(1, None, 0.0), StepAdjustment(2, None, 5.0)), "at most one"),
    ],
)
def test_step_rules_of_aas_are_checked(steps: tuple[StepAdjustment, ...], problem: str) -> None:
    message = check_steps(steps)
    assert message is not None and problem in message
    assert check_steps(STEPS) is None


# -- a load spike, tick by tick, at 1,000 tasks -------------------------------------------------


def test_load_spike_at_scale_converges_within_bounds_and_cooldowns() -> None:
    """1,000 tasks at the target, then 3x the load for a while, then back.

    Each tick the simulated service runs what was asked (new tasks measure at once),
    the load is shared evenly, and the decision is applied. The count must rise to
    carry the load at the target, never beyond MaxCapacity, never change more often
    than the cooldowns allow, and come back down conservatively once the spike ends.
    """
    policy = tracking(50, scale_out_cooldown_s=60, scale_in_cooldown_s=300)
    low, high, tick = 100, 5_000, 5.0
    desired, out_at, in_at = 1_000, None, None
    activities: list[tuple[float, Direction, int]] = []
    for step in range(600):
        now = NOW + step * tick
        load = 1_000 * 50.0 * (3 if 20 <= step < 200 else 1)  # total %-of-task CPU
        metric = load / desired
        state = Capacity(low, high, desired, out_at, in_at)
        decision = decide(state, [policy], cpu(metric, desired), now)
        if decision.changes:
            activities.append((now, decision.direction, decision.desired))
            if decision.direction is Direction.OUT:
                out_at = now
            else:
                in_at = now
            desired = decision.desired
        assert low <= desired <= high
    outs = [a for a in activities if a[1] is Direction.OUT]
    ins = [a for a in activities if a[1] is Direction.IN]
    assert outs and outs[0][2] == 3_000  # one step carries the spike at the target
    assert max(a[2] for a in activities) == 3_000
    assert all(b[0] - a[0] >= 60 for a, b in itertools.pairwise(outs))
    assert all(b[0] - a[0] >= 300 for a, b in itertools.pairwise(ins))
    assert ins and desired <= 1_112  # back near 1,000 (90 % headroom), not below
    assert desired >= 1_000
