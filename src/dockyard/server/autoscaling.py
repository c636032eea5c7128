"""Application Auto Scaling for ECS services, the API side.

RegisterScalableTarget, PutScalingPolicy, PutScheduledAction, their Describe and
Delete/Deregister, and DescribeScalingActivities, in AAS's request and response shapes
(``ResourceId`` ``service/default/NAME``). Every check runs before anything is
written, so a refused request stores nothing; handlers then write the desired state
and wake the service's ``scaling`` resource, which decides (:mod:`.scaling`).

As on AWS: a policy or scheduled action needs the service's scalable target first;
deregistering the target deletes its policies and scheduled actions with it. Only
services a user created are scalable (an endpoint's variants follow its config).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from dockyard.control.autoscaling import StepScaling, TargetTracking
from dockyard.errors import NotFound, SpecError
from dockyard.records.autoscaling import (
    ScalableTargetRecord,
    ScalingPolicyRecord,
    ScheduledActionRecord,
    policy_key,
)
from dockyard.server.ecs_services import user_service
from dockyard.server.platform import Platform
from dockyard.server.scaling import KIND, evaluate, policies_of
from dockyard.server.scaling_inputs import readings
from dockyard.spec.autoscaling import (
    DIMENSION,
    NAMESPACE,
    parse_put_policy,
    parse_register_target,
    parse_scheduled_action,
)

ARN_PREFIX = "arn:aws:autoscaling:local:000000000000"


def resource_id(service: str) -> str:
    return f"service/default/{service}"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def _service(platform: Platform, name: str, field: str = "ResourceId") -> None:
    try:
        user_service(platform, name)
    except NotFound as error:
        raise SpecError(error.message, field=field, hint=error.hint) from None


def _target(platform: Platform, service: str) -> ScalableTargetRecord:
    target = platform.store.scalable_targets.get(service)
    if target is None:
        raise NotFound(
            f"no scalable target registered for service {service}",
            resource=f"scalable-target/{resource_id(service)}",
            hint=f"register one first: `dockyard autoscaling put-policy {service} --min 1 "
            "--max 10 ...` or POST /v1/autoscaling/targets",
        )
    return target


# -- scalable targets ---------------------------------------------------------------------


def register_target(platform: Platform, doc: Any) -> dict[str, Any]:
    request = parse_register_target(doc)
    _service(platform, request.service)
    store = platform.store
    with store.transaction():
        current = store.scalable_targets.get(request.service)
        if current is None:
            if request.min_capacity is None or request.max_capacity is None:
                missing = "MinCapacity" if request.min_capacity is None else "MaxCapacity"
                raise SpecError(
                    f"registering a new scalable target needs {missing}",
                    field=missing,
                    hint="give both MinCapacity and MaxCapacity",
                )
            record = ScalableTargetRecord(
                request.service, request.min_capacity, request.max_capacity, platform.clock()
            )
        else:
            low = request.min_capacity if request.min_capacity is not None else current.min_capacity
            high = (
                request.max_capacity if request.max_capacity is not None else current.max_capacity
            )
            if low > high:
                raise SpecError(
                    f"MinCapacity {low} would be above MaxCapacity {high}",
                    field="MinCapacity" if request.min_capacity is not None else "MaxCapacity",
                )
            record = replace(current, min_capacity=low, max_capacity=high)
        store.scalable_targets.put(record)
    platform.wake(KIND, request.service)
    return {"ScalableTargetARN": f"{ARN_PREFIX}:scalable-target/{request.service}"}


def _target_view(target: ScalableTargetRecord) -> dict[str, Any]:
    return {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(target.service),
        "ScalableDimension": DIMENSION,
        "MinCapacity": target.min_capacity,
        "MaxCapacity": target.max_capacity,
        "CreationTime": _when(target.created_at),
        "ScalableTargetARN": f"{ARN_PREFIX}:scalable-target/{target.service}",
    }


def describe_targets(platform: Platform) -> dict[str, Any]:
    return {"ScalableTargets": [_target_view(t) for t in platform.store.scalable_targets.list()]}


def deregister_target(platform: Platform, service: str) -> dict[str, Any]:
    """DeregisterScalableTarget: the target, its policies and scheduled actions go."""
    store = platform.store
    with store.transaction():
        _target(platform, service)
        for policy in store.scaling_policies.list(service):
            store.scaling_policies.delete(policy.key)
        for action in store.scheduled_actions.list(service):
            store.scheduled_actions.delete(action.key)
        store.scalable_targets.delete(service)
    return {}


# -- scaling policies -----------------------------------------------------------------------


def _policy_arn(service: str, name: str) -> str:
    return f"{ARN_PREFIX}:scalingPolicy:resource/ecs/{resource_id(service)}:policyName/{name}"


def put_policy(platform: Platform, doc: Any) -> dict[str, Any]:
    """PutScalingPolicy: create or replace a policy of a registered target."""
    request = parse_put_policy(doc)
    _service(platform, request.service)
    store = platform.store
    with store.transaction():
        _target(platform, request.service)
        key = policy_key(request.service, request.policy_name)
        existing = store.scaling_policies.get(key)
        store.scaling_policies.put(
            ScalingPolicyRecord(
                request.service,
                request.policy_name,
                existing.created_at if existing else platform.clock(),
                request.target_tracking,
                request.step,
            )
        )
    platform.wake(KIND, request.service)
    return {"PolicyARN": _policy_arn(request.service, request.policy_name), "Alarms": []}


def _tracking_view(config: TargetTracking) -> dict[str, Any]:
    return {
        "TargetValue": config.target_value,
        "PredefinedMetricSpecification": {"PredefinedMetricType": str(config.metric)},
        "ScaleOutCooldown": config.scale_out_cooldown_s,
        "ScaleInCooldown": config.scale_in_cooldown_s,
        "DisableScaleIn": config.disable_scale_in,
    }


def _step_view(config: StepScaling) -> dict[str, Any]:
    steps = []
    for step in config.adjustments:
        view: dict[str, Any] = {"ScalingAdjustment": step.scaling_adjustment}
        if step.lower is not None:
            view["MetricIntervalLowerBound"] = step.lower
        if step.upper is not None:
            view["MetricIntervalUpperBound"] = step.upper
        steps.append(view)
    view = {
        "AdjustmentType": str(config.adjustment_type),
        "StepAdjustments": steps,
        "Cooldown": config.cooldown_s,
        "MetricAggregationType": str(config.aggregation),
    }
    if config.min_adjustment_magnitude is not None:
        view["MinAdjustmentMagnitude"] = config.min_adjustment_magnitude
    return view


def _policy_view(record: ScalingPolicyRecord) -> dict[str, Any]:
    view: dict[str, Any] = {
        "PolicyARN": _policy_arn(record.service, record.policy_name),
        "PolicyName": record.policy_name,
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(record.service),
        "ScalableDimension": DIMENSION,
        "CreationTime": _when(record.created_at),
        "Alarms": [],
    }
    if record.target_tracking is not None:
        view["PolicyType"] = "TargetTrackingScaling"
        view["TargetTrackingScalingPolicyConfiguration"] = _tracking_view(record.target_tracking)
    elif record.step is not None:
        view["PolicyType"] = "StepScaling"
        view["StepScalingPolicyConfiguration"] = _step_view(record.step)
        alarm = record.step.alarm
        view["Alarm"] = {
            "MetricType": str(alarm.metric),
            "Threshold": alarm.threshold,
            "ComparisonOperator": str(alarm.comparison),
        }
    return view


def describe_policies(platform: Platform, service: str | None = None) -> dict[str, Any]:
    records = platform.store.scaling_policies.list(service)
    return {"ScalingPolicies": [_policy_view(r) for r in records]}


def delete_policy(platform: Platform, service: str, name: str) -> dict[str, Any]:
    if not platform.store.scaling_policies.delete(policy_key(service, name)):
        raise NotFound(
            f"no scaling policy {name} for service {service}",
            resource=f"scaling-policy/{resource_id(service)}/{name}",
            hint=f"list them with `dockyard autoscaling describe {service}`",
        )
    return {}


# -- scheduled actions ------------------------------------------------------------------------


def put_scheduled_action(platform: Platform, doc: Any) -> dict[str, Any]:
    request = parse_scheduled_action(doc)
    _service(platform, request.service)
    store = platform.store
    with store.transaction():
        _target(platform, request.service)
        key = policy_key(request.service, request.action_name)
        existing = store.scheduled_actions.get(key)
        store.scheduled_actions.put(
            ScheduledActionRecord(
                request.service,
                request.action_name,
                request.schedule,
                existing.created_at if existing else platform.clock(),
                request.min_capacity,
                request.max_capacity,
                request.start_time,
                request.end_time,
            )
        )
    platform.wake(KIND, request.service)
    return {}


def _scheduled_view(record: ScheduledActionRecord) -> dict[str, Any]:
    action: dict[str, Any] = {}
    if record.min_capacity is not None:
        action["MinCapacity"] = record.min_capacity
    if record.max_capacity is not None:
        action["MaxCapacity"] = record.max_capacity
    view: dict[str, Any] = {
        "ScheduledActionName": record.action_name,
        "ScheduledActionARN": f"{ARN_PREFIX}:scheduledAction:resource/ecs/"
        f"{resource_id(record.service)}:scheduledActionName/{record.action_name}",
        "ServiceNamespace": NAMESPACE,
        "Schedule": record.schedule,
        "Timezone": "UTC",
        "ResourceId": resource_id(record.service),
        "ScalableDimension": DIMENSION,
        "ScalableTargetAction": action,
        "CreationTime": _when(record.created_at),
    }
    if record.start_time is not None:
        view["StartTime"] = _when(record.start_time)
    if record.end_time is not None:
        view["EndTime"] = _when(record.end_time)
    if record.last_run_at is not None:
        view["LastRunTime"] = _when(record.last_run_at)
    return view


def describe_scheduled_actions(platform: Platform, service: str | None = None) -> dict[str, Any]:
    records = platform.store.scheduled_actions.list(service)
    return {"ScheduledActions": [_scheduled_view(r) for r in records]}


def delete_scheduled_action(platform: Platform, service: str, name: str) -> dict[str, Any]:
    if not platform.store.scheduled_actions.delete(policy_key(service, name)):
        raise NotFound(
            f"no scheduled action {name} for service {service}",
            resource=f"scheduled-action/{resource_id(service)}/{name}",
            hint=f"list them with `dockyard autoscaling describe {service}`",
        )
    return {}


# -- what it is doing ---------------------------------------------------------------------------


def activities(platform: Platform, service: str) -> dict[str, Any]:
    """DescribeScalingActivities, newest first."""
    target = _target(platform, service)
    return {
        "ScalingActivities": [
            {
                "ActivityId": f"{service}-{int(a.at * 1000)}",
                "ServiceNamespace": NAMESPACE,
                "ResourceId": resource_id(service),
                "ScalableDimension": DIMENSION,
                "Description": a.description,
                "Cause": a.cause,
                "StartTime": _when(a.at),
                "EndTime": _when(a.at),
                "StatusCode": a.status,
                "StatusMessage": f"Successfully set desired count to {a.desired}. "
                "Change successfully fulfilled by ecs.",
            }
            for a in reversed(target.activities)
        ]
    }


def describe(platform: Platform, service: str) -> dict[str, Any]:
    """Everything about one service's scaling: target, policies, scheduled actions, the
    metrics as the policies read them now, what they would decide, the last activities."""
    record = user_service(platform, service)
    target = _target(platform, record.name)
    now = platform.clock()
    policies = platform.store.scaling_policies.list(record.name)
    metrics = {policy.metric for policy in policies_of(platform, record.name)}
    measured = readings(platform, record, metrics, now)
    decision = evaluate(platform, record, target, now)
    return {
        "ScalableTarget": _target_view(target),
        "ScalingPolicies": [_policy_view(p) for p in policies],
        "ScheduledActions": [
            _scheduled_view(a) for a in platform.store.scheduled_actions.list(record.name)
        ],
        "DesiredCount": record.state.desired_count,
        "Metrics": {str(m): asdict(r) for m, r in measured.items()},
        "Now": {"DesiredCount": decision.desired, "Reason": decision.reason},
        "ScalingActivities": activities(platform, record.name)["ScalingActivities"],
    }
