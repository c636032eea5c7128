"""How many tasks a service should run, as Application Auto Scaling decides it (pure).

A *scalable target* bounds a service's desiredCount by ``MinCapacity`` and
``MaxCapacity``. Policies move it inside those bounds:

* **Target tracking** keeps a metric near ``TargetValue``: the capacity that would
  carry the measured load at the target is ``ceil(tasks x metric / target)``, where
  ``tasks`` is the number of tasks the metric was measured over (capacity still
  starting is not counted twice). Scale-out uses a short window so a spike is seen
  within seconds; scale-in is conservative in three ways, as AAS's is: it reads a
  longer window, waits until every desired task is measured, and keeps the metric
  at most :data:`SCALE_IN_HEADROOM` of the target after removing tasks.
  ``DisableScaleIn`` turns scale-in off.
* **Step scaling** adds (or removes) capacity by the step whose interval contains
  ``metric - threshold`` once the alarm breaches (ChangeInCapacity,
  PercentChangeInCapacity with ``MinAdjustmentMagnitude``, ExactCapacity).
* Scheduled actions (:mod:`dockyard.control.schedules`) change min/max only; the
  next decision then clamps the count into the new range.

Cooldowns follow AAS's defaults (300 s): no scale-out within ``ScaleOutCooldown`` of
the last scale-out; no scale-in within ``ScaleInCooldown`` of the last scaling
activity in either direction (capacity just added is not removed at once). Several
policies combine as AAS combines them: the largest scale-out wins, and scale-in
happens only when every policy wants it (then to the largest count any asks for).

Every :class:`Decision` carries a ``reason`` meant for the service's events, in AAS's
activity wording.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

#: AAS's default ScaleOutCooldown / ScaleInCooldown / step Cooldown for ECS (seconds)
DEFAULT_COOLDOWN_S = 300
#: after a scale-in, the metric may be at most this fraction of the target
SCALE_IN_HEADROOM = 0.9


class MetricType(StrEnum):
    """AAS's predefined metrics for ECS services (``PredefinedMetricType``)."""

    CPU = "ECSServiceAverageCPUUtilization"
    MEMORY = "ECSServiceAverageMemoryUtilization"
    REQUESTS = "ALBRequestCountPerTarget"


class AdjustmentType(StrEnum):
    CHANGE = "ChangeInCapacity"
    PERCENT = "PercentChangeInCapacity"
    EXACT = "ExactCapacity"


class Aggregation(StrEnum):
    AVERAGE = "Average"
    MINIMUM = "Minimum"
    MAXIMUM = "Maximum"


class Comparison(StrEnum):
    """A CloudWatch alarm's ComparisonOperator (the step policy's breach)."""

    GE = "GreaterThanOrEqualToThreshold"
    GT = "GreaterThanThreshold"
    LT = "LessThanThreshold"
    LE = "LessThanOrEqualToThreshold"


class Direction(StrEnum):
    OUT = "out"
    IN = "in"
    NONE = "none"


@dataclass(frozen=True)
class TargetTracking:
    """``TargetTrackingScalingPolicyConfiguration`` with a predefined metric."""

    metric: MetricType
    target_value: float
    scale_out_cooldown_s: int = DEFAULT_COOLDOWN_S
    scale_in_cooldown_s: int = DEFAULT_COOLDOWN_S
    disable_scale_in: bool = False


@dataclass(frozen=True)
class StepAdjustment:
    """Applies when ``lower <= metric - threshold < upper`` (None: unbounded)."""

    scaling_adjustment: int
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class StepAlarm:
    """The alarm that triggers a step policy: ``metric COMPARISON threshold``.

    On AWS this is a CloudWatch alarm whose action is the policy; locally it is part
    of the policy, evaluated over the same metrics target tracking reads.
    """

    metric: MetricType
    threshold: float
    comparison: Comparison = Comparison.GE


@dataclass(frozen=True)
class StepScaling:
    """``StepScalingPolicyConfiguration`` plus its alarm."""

    alarm: StepAlarm
    adjustments: tuple[StepAdjustment, ...]
    adjustment_type: AdjustmentType = AdjustmentType.CHANGE
    min_adjustment_magnitude: int | None = None
    cooldown_s: int = DEFAULT_COOLDOWN_S
    aggregation: Aggregation = Aggregation.AVERAGE


@dataclass(frozen=True)
class Policy:
    """One scaling policy: exactly one of ``target_tracking`` and ``step`` is set."""

    name: str
    target_tracking: TargetTracking | None = None
    step: StepScaling | None = None
    last_activity_at: float | None = None  # step cooldowns are per policy

    @property
    def metric(self) -> MetricType:
        if self.target_tracking is not None:
            return self.target_tracking.metric
        assert self.step is not None
        return self.step.alarm.metric

    @property
    def kind(self) -> str:
        return "TargetTrackingScaling" if self.target_tracking is not None else "StepScaling"


@dataclass(frozen=True)
class Reading:
    """One metric of a service, as the server measured it.

    ``short`` and ``long`` are averages over the short (scale-out) and long (scale-in)
    windows, in the metric's unit (% for utilisation, requests per target per minute);
    ``tasks`` is how many tasks they were measured over; ``minimum``/``maximum`` are
    over tasks in the short window (step policies may aggregate by them).
    """

    short: float | None
    long: float | None
    tasks: int
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Capacity:
    """The scalable target now: its bounds, the service's count, the cooldown clocks."""

    min: int
    max: int
    desired: int
    last_scale_out_at: float | None = None
    last_scale_in_at: float | None = None


@dataclass(frozen=True)
class Decision:
    """Where the desired count should go, and why (the service event's text)."""

    desired: int
    direction: Direction
    reason: str
    policy: str | None = None  # the policy that acted (None: min/max, or nothing)

    @property
    def changes(self) -> bool:
        return self.direction is not Direction.NONE


@dataclass(frozen=True)
class _Proposal:
    policy: Policy
    count: int | None  # None: this policy has no opinion (no data, cooldown, no breach)
    why: str
    #: a target-tracking policy without an opinion keeps others from scaling in
    holds_scale_in: bool = True


# -- units --------------------------------------------------------------------------------


def cpu_utilization(cpu_percent_of_core: float, task_cpu_units: int | None) -> float:
    """ECSServiceAverageCPUUtilization of one task: % of the CPU the task reserved.

    The collector reports % of one core; a task sized ``cpu`` units (1024 = 1 vCPU)
    at 100 % uses ``cpu/1024`` cores. Without a task size, one core is the reserve.
    """
    cores = task_cpu_units / 1024 if task_cpu_units else 1.0
    return cpu_percent_of_core / cores


def memory_utilization(memory_mib: float, task_memory_mib: int | None) -> float | None:
    """ECSServiceAverageMemoryUtilization of one task; None when no memory is reserved."""
    if not task_memory_mib:
        return None
    return memory_mib / task_memory_mib * 100


def requests_per_target(requests_per_s: float, targets: int) -> float | None:
    """ALBRequestCountPerTarget: requests a minute per registered target."""
    if targets <= 0:
        return None
    return requests_per_s * 60 / targets


# -- deciding ---------------------------------------------------------------------------------


def decide(
    capacity: Capacity,
    policies: Sequence[Policy],
    readings: dict[MetricType, Reading],
    now: float,
) -> Decision:
    """The next desired count of one service, from its policies and what was measured."""
    low, high = capacity.min, max(capacity.min, capacity.max)
    if capacity.desired < low:
        return Decision(
            low, Direction.OUT, _setting(capacity.desired, low, f"below MinCapacity {low}")
        )
    if capacity.desired > high:
        return Decision(
            high, Direction.IN, _setting(capacity.desired, high, f"above MaxCapacity {high}")
        )
    proposals = [_propose(p, capacity, readings.get(p.metric), now) for p in policies]
    opinions = [p for p in proposals if p.count is not None]
    if not opinions:
        reasons = "; ".join(f"{p.policy.name}: {p.why}" for p in proposals)
        return Decision(capacity.desired, Direction.NONE, reasons or "no scaling policy")
    best = max(opinions, key=lambda p: p.count or 0)
    wanted = best.count or 0
    if wanted > capacity.desired:
        return _bounded(capacity, wanted, best, low, high)
    held = any(p.count is None and p.holds_scale_in for p in proposals)
    if wanted < capacity.desired and not held:
        return _bounded(capacity, wanted, best, low, high)
    reasons = "; ".join(f"{p.policy.name}: {p.why}" for p in proposals)
    return Decision(capacity.desired, Direction.NONE, reasons)


def _bounded(capacity: Capacity, wanted: int, best: _Proposal, low: int, high: int) -> Decision:
    count = min(max(wanted, low), high)
    name = best.policy.name
    if count == capacity.desired:
        edge = f"MaxCapacity {high}" if wanted > count else f"MinCapacity {low}"
        return Decision(
            count, Direction.NONE, f"{name}: {best.why}; already at {edge}", policy=name
        )
    direction = Direction.OUT if count > capacity.desired else Direction.IN
    cause = f"policy {name} ({best.policy.kind}): {best.why}"
    if count != wanted:
        cause += f"; {wanted} capped by {'MaxCapacity' if wanted > count else 'MinCapacity'}"
    return Decision(count, direction, _setting(capacity.desired, count, cause), policy=name)


def _setting(before: int, after: int, cause: str) -> str:
    """AAS's activity text: what was set, why, and that ECS took it."""
    return (
        f"Setting desired count to {after} (from {before}): {cause}. "
        f"Successfully set desired count to {after}. Change successfully fulfilled by ecs."
    )


def _propose(policy: Policy, capacity: Capacity, reading: Reading | None, now: float) -> _Proposal:
    if reading is None or reading.tasks <= 0 or reading.short is None:
        return _Proposal(policy, None, f"no {policy.metric} data yet")
    if policy.target_tracking is not None:
        return _track(policy, policy.target_tracking, capacity, reading, now)
    assert policy.step is not None
    return _step(policy, policy.step, capacity, reading, now)


def _cooling(last: float | None, cooldown_s: int, now: float) -> float | None:
    """Seconds of cooldown left after an activity at ``last`` (None: not cooling)."""
    if last is None or now >= last + cooldown_s:
        return None
    return last + cooldown_s - now


def _track(
    policy: Policy, config: TargetTracking, capacity: Capacity, reading: Reading, now: float
) -> _Proposal:
    metric = reading.short
    assert metric is not None
    target = config.target_value
    shown = f"{_name(config.metric)} {metric:.1f} over {reading.tasks} tasks, target {target:g}"
    out = math.ceil(reading.tasks * metric / target - 1e-9)
    if out > capacity.desired:
        left = _cooling(capacity.last_scale_out_at, config.scale_out_cooldown_s, now)
        if left is not None:
            return _Proposal(policy, None, f"{shown}; scale-out cooldown, {left:.0f} s left")
        return _Proposal(policy, out, f"{shown} -> {out} tasks")
    if config.disable_scale_in:
        return _Proposal(policy, None, f"{shown}; scale-in disabled")
    average = reading.long if reading.long is not None else metric
    smaller = max(1, math.ceil(reading.tasks * average / (target * SCALE_IN_HEADROOM) - 1e-9))
    if smaller >= capacity.desired:
        return _Proposal(policy, capacity.desired, f"{shown}; within target")
    if reading.tasks < capacity.desired:
        return _Proposal(
            policy, None, f"{shown}; {capacity.desired - reading.tasks} tasks not measured yet"
        )
    last = max(capacity.last_scale_in_at or 0.0, capacity.last_scale_out_at or 0.0) or None
    left = _cooling(last, config.scale_in_cooldown_s, now)
    if left is not None:
        return _Proposal(policy, None, f"{shown}; scale-in cooldown, {left:.0f} s left")
    return _Proposal(
        policy,
        smaller,
        f"{_name(config.metric)} {average:.1f} long-window average "
        f"over {reading.tasks} tasks, target {target:g} -> {smaller} tasks",
    )


def _name(metric: MetricType) -> str:
    return {
        MetricType.CPU: "average CPU %",
        MetricType.MEMORY: "average memory %",
        MetricType.REQUESTS: "requests/min per target",
    }[metric]


# -- step scaling -----------------------------------------------------------------------------


def breached(alarm: StepAlarm, value: float) -> bool:
    if alarm.comparison is Comparison.GE:
        return value >= alarm.threshold
    if alarm.comparison is Comparison.GT:
        return value > alarm.threshold
    if alarm.comparison is Comparison.LE:
        return value <= alarm.threshold
    return value < alarm.threshold


def step_for(adjustments: Sequence[StepAdjustment], difference: float) -> StepAdjustment | None:
    """The step whose interval holds ``metric - threshold``.

    As AAS: above the threshold an interval holds its lower bound
    (``lower <= d < upper``); below it, its upper bound (``lower < d <= upper``).
    """
    for step in adjustments:
        lower = -math.inf if step.lower is None else step.lower
        upper = math.inf if step.upper is None else step.upper
        if difference >= 0 and lower <= difference < upper:
            return step
        if difference < 0 and lower < difference <= upper:
            return step
    return None


def adjusted(current: int, step: StepAdjustment, config: StepScaling) -> int:
    """The capacity a step sets, before min/max."""
    amount = step.scaling_adjustment
    if config.adjustment_type is AdjustmentType.EXACT:
        return amount
    if config.adjustment_type is AdjustmentType.CHANGE:
        return current + amount
    change = current * amount / 100
    # AAS: a fraction of a task rounds away from zero to 1, larger values toward zero
    moved = int(change) if abs(change) >= 1 else (1 if change > 0 else -1 if change < 0 else 0)
    if config.min_adjustment_magnitude and abs(moved) < config.min_adjustment_magnitude:
        moved = config.min_adjustment_magnitude * (1 if amount > 0 else -1)
    return current + moved


def _step(
    policy: Policy, config: StepScaling, capacity: Capacity, reading: Reading, now: float
) -> _Proposal:
    value = {
        Aggregation.AVERAGE: reading.short,
        Aggregation.MINIMUM: reading.minimum,
        Aggregation.MAXIMUM: reading.maximum,
    }[config.aggregation]
    if value is None:
        return _Proposal(policy, None, f"no {config.aggregation} of {config.alarm.metric}")
    alarm = config.alarm
    shown = f"{_name(alarm.metric)} ({config.aggregation}) {value:.1f}"
    if not breached(alarm, value):
        ok = f"{shown}; alarm OK ({alarm.comparison} {alarm.threshold:g})"
        return _Proposal(policy, None, ok, holds_scale_in=False)
    left = _cooling(policy.last_activity_at, config.cooldown_s, now)
    if left is not None:
        return _Proposal(policy, None, f"{shown} in ALARM; cooldown, {left:.0f} s left")
    step = step_for(config.adjustments, value - alarm.threshold)
    if step is None:
        return _Proposal(policy, None, f"{shown} in ALARM; no step covers it")
    count = max(0, adjusted(capacity.desired, step, config))
    return _Proposal(
        policy,
        count,
        f"{shown} in ALARM ({alarm.comparison} {alarm.threshold:g}), "
        f"step {step.scaling_adjustment:+d} {config.adjustment_type} -> {count} tasks",
    )


def check_steps(adjustments: Sequence[StepAdjustment]) -> str | None:
    """What is wrong with a policy's steps (AAS's rules), or None.

    Intervals may not overlap or leave a gap; at most one has no lower bound and one
    no upper bound; no step lacks both.
    """
    if not adjustments:
        return "a step policy needs at least one StepAdjustment"
    if any(s.lower is None and s.upper is None for s in adjustments):
        return "a StepAdjustment needs MetricIntervalLowerBound or MetricIntervalUpperBound"
    if sum(s.lower is None for s in adjustments) > 1:
        return "at most one StepAdjustment may leave MetricIntervalLowerBound out"
    if sum(s.upper is None for s in adjustments) > 1:
        return "at most one StepAdjustment may leave MetricIntervalUpperBound out"
    ordered = sorted(adjustments, key=lambda s: -math.inf if s.lower is None else s.lower)
    for before, after in itertools.pairwise(ordered):
        if before.upper != after.lower:
            return (
                f"step intervals must meet without gap or overlap: one ends at "
                f"{before.upper}, the next starts at {after.lower}"
            )
    for step in ordered:
        if step.lower is not None and step.upper is not None and step.lower >= step.upper:
            return f"MetricIntervalLowerBound {step.lower} is not below the upper {step.upper}"
    return None
