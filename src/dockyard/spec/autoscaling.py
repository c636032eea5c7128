"""Application Auto Scaling requests for ECS services, validated before anything is stored.

RegisterScalableTarget, PutScalingPolicy and PutScheduledAction as `aws
application-autoscaling ... --cli-input-json` sends them: each is type-checked whole
against botocore's shape (unknown members, wrong types, enum values), then held to
what Dockyard can act on: ``ServiceNamespace`` ``ecs``, ``ScalableDimension``
``ecs:service:DesiredCount``, ``ResourceId`` ``service/CLUSTER/NAME``, one of the ECS
predefined metrics, AAS's step-interval rules, a schedule that parses. Every problem
is a :class:`SpecError` naming the field.

One member is Dockyard's own: a step policy's ``Alarm`` (``MetricType``,
``Threshold``, ``ComparisonOperator``), because on AWS a step policy is triggered by a
CloudWatch alarm created separately, and here there is no CloudWatch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dockyard.control.autoscaling import (
    DEFAULT_COOLDOWN_S,
    AdjustmentType,
    Aggregation,
    Comparison,
    MetricType,
    StepAdjustment,
    StepAlarm,
    StepScaling,
    TargetTracking,
    check_steps,
)
from dockyard.control.schedules import parse_schedule
from dockyard.errors import SpecError
from dockyard.spec.aws_shape import check_shape
from dockyard.spec.errors import InvalidDocument

NAMESPACE = "ecs"
DIMENSION = "ecs:service:DesiredCount"
#: a service's desired count may not exceed this (ECS's tasks-per-service quota)
MAX_TASKS = 5000
ALARM = "Alarm"  # Dockyard's member of PutScalingPolicy (see the module's docstring)


@dataclass(frozen=True)
class TargetRequest:
    service: str
    min_capacity: int | None
    max_capacity: int | None


@dataclass(frozen=True)
class PolicyRequest:
    service: str
    policy_name: str
    target_tracking: TargetTracking | None
    step: StepScaling | None


@dataclass(frozen=True)
class ScheduledRequest:
    service: str
    action_name: str
    schedule: str
    min_capacity: int | None
    max_capacity: int | None
    start_time: float | None
    end_time: float | None


def _typed(shape: str, doc: Any, what: str, extra: tuple[str, ...] = ()) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise SpecError(f"a {what} must be a JSON object", hint="send {...}")
    problems = check_shape(
        "application-autoscaling", shape, {k: v for k, v in doc.items() if k not in extra}
    )
    if problems:
        raise InvalidDocument(problems, what=what)
    return doc


def service_of(resource_id: str, field: str = "ResourceId") -> str:
    """``service/CLUSTER/NAME`` (or ``service/NAME``) → NAME."""
    parts = resource_id.split("/")
    if parts[0] != "service" or len(parts) not in (2, 3) or not parts[-1]:
        raise SpecError(
            f"ResourceId {resource_id!r} is not an ECS service",
            field=field,
            hint="write service/default/NAME (service/CLUSTER/NAME)",
        )
    return parts[-1]


def _ecs_target(doc: Mapping[str, Any]) -> str:
    if doc["ServiceNamespace"] != NAMESPACE:
        raise SpecError(
            f"ServiceNamespace {doc['ServiceNamespace']} is not scaled here",
            field="ServiceNamespace",
            hint='Dockyard scales ECS services: "ecs"',
        )
    if doc["ScalableDimension"] != DIMENSION:
        raise SpecError(
            f"ScalableDimension {doc['ScalableDimension']} does not belong to an ECS service",
            field="ScalableDimension",
            hint=f'write "{DIMENSION}"',
        )
    return service_of(str(doc["ResourceId"]))


def _capacity(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if not 0 <= int(value) <= MAX_TASKS:
        raise SpecError(f"{field} {value} is outside 0-{MAX_TASKS}", field=field)
    return int(value)


def _min_max(low: int | None, high: int | None, prefix: str = "") -> None:
    if low is not None and high is not None and low > high:
        raise SpecError(
            f"MinCapacity {low} is above MaxCapacity {high}",
            field=f"{prefix}MinCapacity",
            hint="MinCapacity must be at most MaxCapacity",
        )


def parse_register_target(doc: Any) -> TargetRequest:
    body = _typed("RegisterScalableTargetRequest", doc, "RegisterScalableTarget request")
    service = _ecs_target(body)
    low = _capacity(body.get("MinCapacity"), "MinCapacity")
    high = _capacity(body.get("MaxCapacity"), "MaxCapacity")
    _min_max(low, high)
    return TargetRequest(service, low, high)


def parse_put_policy(doc: Any) -> PolicyRequest:
    body = _typed("PutScalingPolicyRequest", doc, "PutScalingPolicy request", extra=(ALARM,))
    service = _ecs_target(body)
    kind = body.get("PolicyType", "StepScaling")
    name = str(body["PolicyName"])
    if kind == "TargetTrackingScaling":
        config = body.get("TargetTrackingScalingPolicyConfiguration")
        if config is None:
            raise SpecError(
                "a TargetTrackingScaling policy needs its configuration",
                field="TargetTrackingScalingPolicyConfiguration",
                hint="give TargetValue and PredefinedMetricSpecification",
            )
        return PolicyRequest(service, name, _target_tracking(config), None)
    if kind == "StepScaling":
        config = body.get("StepScalingPolicyConfiguration")
        if config is None:
            raise SpecError(
                "a StepScaling policy needs its configuration",
                field="StepScalingPolicyConfiguration",
                hint="give AdjustmentType and StepAdjustments",
            )
        return PolicyRequest(service, name, None, _step(config, body.get(ALARM)))
    raise SpecError(
        f"PolicyType {kind} is not supported for ECS services here",
        field="PolicyType",
        hint="use TargetTrackingScaling or StepScaling",
    )


def _metric(value: Any, field: str) -> MetricType:
    try:
        return MetricType(value)
    except ValueError:
        raise SpecError(
            f"{value} is not a metric of an ECS service",
            field=field,
            hint="use " + ", ".join(m.value for m in MetricType),
        ) from None


def _cooldown(config: Mapping[str, Any], name: str, prefix: str) -> int:
    value = config.get(name, DEFAULT_COOLDOWN_S)
    if not 0 <= int(value) <= 86400:
        raise SpecError(f"{name} {value} is outside 0-86400 s", field=f"{prefix}.{name}")
    return int(value)


def _target_tracking(config: Mapping[str, Any]) -> TargetTracking:
    prefix = "TargetTrackingScalingPolicyConfiguration"
    if "CustomizedMetricSpecification" in config:
        raise SpecError(
            "customized metrics are not collected here",
            field=f"{prefix}.CustomizedMetricSpecification",
            hint="use PredefinedMetricSpecification",
        )
    predefined = config.get("PredefinedMetricSpecification")
    if predefined is None:
        raise SpecError(
            "name the metric to track",
            field=f"{prefix}.PredefinedMetricSpecification",
            hint='{"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}',
        )
    metric = _metric(
        predefined["PredefinedMetricType"],
        f"{prefix}.PredefinedMetricSpecification.PredefinedMetricType",
    )
    target = float(config["TargetValue"])
    if not 0 < target <= 1e9 or (metric is not MetricType.REQUESTS and target > 100):
        raise SpecError(
            f"TargetValue {target:g} is out of range for {metric}",
            field=f"{prefix}.TargetValue",
            hint="utilisation targets are above 0 and at most 100 (%)",
        )
    return TargetTracking(
        metric,
        target,
        scale_out_cooldown_s=_cooldown(config, "ScaleOutCooldown", prefix),
        scale_in_cooldown_s=_cooldown(config, "ScaleInCooldown", prefix),
        disable_scale_in=bool(config.get("DisableScaleIn", False)),
    )


def _step(config: Mapping[str, Any], alarm: Any) -> StepScaling:
    prefix = "StepScalingPolicyConfiguration"
    steps = tuple(
        StepAdjustment(
            int(s["ScalingAdjustment"]),
            s.get("MetricIntervalLowerBound"),
            s.get("MetricIntervalUpperBound"),
        )
        for s in config.get("StepAdjustments") or ()
    )
    problem = check_steps(steps)
    if problem is not None:
        raise SpecError(problem, field=f"{prefix}.StepAdjustments")
    magnitude = config.get("MinAdjustmentMagnitude")
    return StepScaling(
        alarm=_alarm(alarm),
        adjustments=steps,
        adjustment_type=AdjustmentType(config.get("AdjustmentType", "ChangeInCapacity")),
        min_adjustment_magnitude=None if magnitude is None else int(magnitude),
        cooldown_s=_cooldown(config, "Cooldown", prefix),
        aggregation=Aggregation(config.get("MetricAggregationType", "Average")),
    )


def _alarm(alarm: Any) -> StepAlarm:
    hint = (
        '"Alarm": {"MetricType": "ECSServiceAverageCPUUtilization", "Threshold": 70, '
        '"ComparisonOperator": "GreaterThanOrEqualToThreshold"}'
    )
    if not isinstance(alarm, Mapping):
        raise SpecError("a step policy needs the alarm that triggers it", field=ALARM, hint=hint)
    unknown = set(alarm) - {"MetricType", "Threshold", "ComparisonOperator"}
    if unknown:
        raise SpecError(f"unknown member {sorted(unknown)[0]}", field=ALARM, hint=hint)
    threshold = alarm.get("Threshold")
    if not isinstance(threshold, int | float) or isinstance(threshold, bool):
        raise SpecError("Threshold must be a number", field=f"{ALARM}.Threshold", hint=hint)
    try:
        comparison = Comparison(alarm.get("ComparisonOperator", Comparison.GE.value))
    except ValueError:
        raise SpecError(
            f"{alarm.get('ComparisonOperator')} is not a comparison",
            field=f"{ALARM}.ComparisonOperator",
            hint="use " + ", ".join(c.value for c in Comparison),
        ) from None
    return StepAlarm(_metric(alarm.get("MetricType"), f"{ALARM}.MetricType"), threshold, comparison)


def parse_scheduled_action(doc: Any) -> ScheduledRequest:
    body = _typed("PutScheduledActionRequest", doc, "PutScheduledAction request")
    service = _ecs_target(body)
    schedule = body.get("Schedule")
    if schedule is None:
        raise SpecError(
            "a scheduled action needs a Schedule", field="Schedule", hint='e.g. "cron(0 8 * * ? *)"'
        )
    parse_schedule(str(schedule))
    timezone = body.get("Timezone")
    if timezone not in (None, "UTC", "Etc/UTC"):
        raise SpecError(
            f"Timezone {timezone} is not supported",
            field="Timezone",
            hint="schedules are evaluated in UTC; leave Timezone out",
        )
    action = body.get("ScalableTargetAction") or {}
    low = _capacity(action.get("MinCapacity"), "ScalableTargetAction.MinCapacity")
    high = _capacity(action.get("MaxCapacity"), "ScalableTargetAction.MaxCapacity")
    if low is None and high is None:
        raise SpecError(
            "a scheduled action changes MinCapacity, MaxCapacity or both",
            field="ScalableTargetAction",
            hint='{"MinCapacity": 2, "MaxCapacity": 10}',
        )
    _min_max(low, high, "ScalableTargetAction.")
    return ScheduledRequest(
        service,
        str(body["ScheduledActionName"]),
        str(schedule),
        low,
        high,
        _time(body.get("StartTime"), "StartTime"),
        _time(body.get("EndTime"), "EndTime"),
    )


def _time(value: Any, field: str) -> float | None:
    """A timestamp as botocore sends it: Unix seconds or ISO 8601."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        raise SpecError(
            f"{value!r} is not a time",
            field=field,
            hint="Unix seconds or ISO 8601 (2026-12-01T08:00:00Z)",
        ) from None
