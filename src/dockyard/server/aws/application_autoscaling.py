"""``application-autoscaling`` (JSON 1.1, target prefix ``AnyScaleFrontendService``).

Scalable targets, scaling policies, scheduled actions and scaling activities of ECS
services, handed to :mod:`dockyard.server.autoscaling`, the functions Dockyard's own
``/v1/autoscaling`` API calls: a target registered here is scaled by the same
``scaling`` reconciler. What Dockyard scales is ``ServiceNamespace`` ``ecs``,
``ScalableDimension`` ``ecs:service:DesiredCount``, ``ResourceId``
``service/default/NAME``; the Describe calls answer an empty list for other
namespaces, as AWS does for a namespace with nothing registered.

Errors are AAS's: ValidationException for a request the model or Dockyard's rules
refuse (a service that does not exist included, as on AWS), ObjectNotFoundException
for a target, policy or scheduled action that is not registered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dockyard.errors import NotFound
from dockyard.server import autoscaling
from dockyard.server.aws.errors import AwsError, ErrorNames
from dockyard.server.aws.listing import token_page
from dockyard.server.aws.service import AwsService, Call, Handler
from dockyard.spec.autoscaling import DIMENSION, NAMESPACE, service_of

ERRORS = ErrorNames(
    invalid="ValidationException",
    missing="ObjectNotFoundException",
    conflict="ValidationException",
    server="InternalServiceException",
)
PAGE = 50  # AAS's default MaxResults


def _page(items: list[dict[str, Any]], call: Call, key: str) -> dict[str, Any]:
    return token_page(
        items,
        call.params,
        key,
        default_size=PAGE,
        token="NextToken",
        size="MaxResults",
        invalid=ERRORS.invalid,
    )


def _service(call: Call) -> str:
    """The ECS service a Deregister/Delete call names (they carry no document to parse)."""
    params = call.params
    if params["ServiceNamespace"] != NAMESPACE:
        raise AwsError(
            ERRORS.invalid,
            f"ServiceNamespace {params['ServiceNamespace']} is not scaled here: "
            f'Dockyard scales ECS services ("{NAMESPACE}")',
        )
    if params["ScalableDimension"] != DIMENSION:
        raise AwsError(
            ERRORS.invalid,
            f"ScalableDimension {params['ScalableDimension']} does not belong to an ECS "
            f'service: write "{DIMENSION}"',
        )
    return service_of(str(params["ResourceId"]))


def _not_registered(call: Call, what: str) -> AwsError:
    params = call.params
    return AwsError(
        ERRORS.missing,
        f"No {what} found for service namespace: {params['ServiceNamespace']}, "
        f"resource ID: {params['ResourceId']}, "
        f"scalable dimension: {params['ScalableDimension']}",
    )


def _filtered(call: Call, rows: list[dict[str, Any]], names: str, name_key: str) -> list[Any]:
    """Rows of the namespace asked for, of ``ResourceId(s)``, ``ScalableDimension`` and
    the names in ``names`` (``PolicyNames``, ``ScheduledActionNames``) when given."""
    params = call.params
    if params["ServiceNamespace"] != NAMESPACE:
        return []
    checks: list[Callable[[dict[str, Any]], bool]] = []
    ids = params.get("ResourceIds") or ([params["ResourceId"]] if params.get("ResourceId") else [])
    if ids:
        checks.append(lambda row: row["ResourceId"] in ids)
    if params.get("ScalableDimension"):
        checks.append(lambda row: row["ScalableDimension"] == params["ScalableDimension"])
    if names and params.get(names):
        checks.append(lambda row: row[name_key] in params[names])
    return [row for row in rows if all(check(row) for check in checks)]


# -- scalable targets -----------------------------------------------------------------------


def register_scalable_target(call: Call) -> Mapping[str, Any]:
    return autoscaling.register_target(call.platform, dict(call.params))


def describe_scalable_targets(call: Call) -> Mapping[str, Any]:
    rows = autoscaling.describe_targets(call.platform)["ScalableTargets"]
    return _page(_filtered(call, rows, "", ""), call, "ScalableTargets")


def deregister_scalable_target(call: Call) -> Mapping[str, Any]:
    service = _service(call)
    try:
        return autoscaling.deregister_target(call.platform, service)
    except NotFound:
        raise _not_registered(call, "scalable target") from None


# -- scaling policies -----------------------------------------------------------------------


def put_scaling_policy(call: Call) -> Mapping[str, Any]:
    return autoscaling.put_policy(call.platform, dict(call.params))


def describe_scaling_policies(call: Call) -> Mapping[str, Any]:
    rows = autoscaling.describe_policies(call.platform)["ScalingPolicies"]
    return _page(_filtered(call, rows, "PolicyNames", "PolicyName"), call, "ScalingPolicies")


def delete_scaling_policy(call: Call) -> Mapping[str, Any]:
    service = _service(call)
    name = str(call.params["PolicyName"])
    try:
        return autoscaling.delete_policy(call.platform, service, name)
    except NotFound:
        raise _not_registered(call, f"scaling policy {name}") from None


# -- scheduled actions ----------------------------------------------------------------------


def put_scheduled_action(call: Call) -> Mapping[str, Any]:
    return autoscaling.put_scheduled_action(call.platform, dict(call.params))


def describe_scheduled_actions(call: Call) -> Mapping[str, Any]:
    rows = autoscaling.describe_scheduled_actions(call.platform)["ScheduledActions"]
    found = _filtered(call, rows, "ScheduledActionNames", "ScheduledActionName")
    return _page(found, call, "ScheduledActions")


def delete_scheduled_action(call: Call) -> Mapping[str, Any]:
    service = _service(call)
    name = str(call.params["ScheduledActionName"])
    try:
        return autoscaling.delete_scheduled_action(call.platform, service, name)
    except NotFound:
        raise _not_registered(call, f"scheduled action {name}") from None


# -- what it did ----------------------------------------------------------------------------


def describe_scaling_activities(call: Call) -> Mapping[str, Any]:
    """Newest first, of one service or of every registered target; none for a service
    without a target (AWS lists nothing for it either)."""
    params = call.params
    if params["ServiceNamespace"] != NAMESPACE:
        return _page([], call, "ScalingActivities")
    if params.get("ResourceId"):
        services = [service_of(str(params["ResourceId"]))]
    else:
        services = [t.service for t in call.platform.store.scalable_targets.list()]
    rows: list[dict[str, Any]] = []
    for service in services:
        if call.platform.store.scalable_targets.get(service) is not None:
            rows += autoscaling.activities(call.platform, service)["ScalingActivities"]
    rows = _filtered(call, rows, "", "")
    rows.sort(key=lambda row: str(row["StartTime"]), reverse=True)
    return _page(rows, call, "ScalingActivities")


HANDLERS: dict[str, Handler] = {
    "RegisterScalableTarget": register_scalable_target,
    "DescribeScalableTargets": describe_scalable_targets,
    "DeregisterScalableTarget": deregister_scalable_target,
    "PutScalingPolicy": put_scaling_policy,
    "DescribeScalingPolicies": describe_scaling_policies,
    "DeleteScalingPolicy": delete_scaling_policy,
    "PutScheduledAction": put_scheduled_action,
    "DescribeScheduledActions": describe_scheduled_actions,
    "DeleteScheduledAction": delete_scheduled_action,
    "DescribeScalingActivities": describe_scaling_activities,
}

SERVICE = AwsService(
    name="application-autoscaling",
    arn_namespace="autoscaling",
    handlers=HANDLERS,
    errors=ERRORS,
)
