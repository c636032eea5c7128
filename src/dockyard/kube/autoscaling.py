"""Target-tracking scaling policies as a HorizontalPodAutoscaler (``autoscaling/v2``).

Application Auto Scaling and the HPA agree on the essentials: a target value per
metric, the replica count that would bring the metric to it, and, with several
policies, the largest count wins. So each target-tracking policy of a scalable target
becomes one metric of one HPA bounded by ``MinCapacity``/``MaxCapacity``:

* ``ECSServiceAverageCPUUtilization`` / ``...MemoryUtilization`` → a ``Resource``
  metric with ``averageUtilization`` (the HPA measures it against the containers'
  requests, as ECS measures against the task's reservation);
* ``ALBRequestCountPerTarget`` → a ``Pods`` metric :data:`REQUESTS_METRIC` with the
  target as ``averageValue`` (served by a custom-metrics adapter, e.g. from Prometheus);
* the longest ``ScaleInCooldown`` → the scale-down stabilization window;
  ``DisableScaleIn`` on every policy → scale-down disabled.

The HPA measures ``Resource`` utilization against each container's *request*; a
container without a request for the metric's resource leaves the HPA unable to compute
it. :func:`hpa_warnings` names such containers so an export and an apply say so
(an ECS container with no ``cpu``/``memoryReservation`` renders no request).

Step-scaling policies have no HPA counterpart: they are named in the HPA's
:data:`~dockyard.kube.names.NOT_RENDERED_ANNOTATION` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.control.autoscaling import MetricType, TargetTracking
from dockyard.kube.names import NOT_RENDERED_ANNOTATION, metadata
from dockyard.records.autoscaling import ScalableTargetRecord, ScalingPolicyRecord

REQUESTS_METRIC = "requests_per_target"
MAX_STABILIZATION_S = 3600  # the API's bound on stabilizationWindowSeconds


@dataclass(frozen=True)
class Scaling:
    """A service's scalable target and its policies, as the store keeps them."""

    target: ScalableTargetRecord
    policies: tuple[ScalingPolicyRecord, ...] = ()

    @property
    def tracking(self) -> list[tuple[str, TargetTracking]]:
        return sorted(
            (p.policy_name, p.target_tracking)
            for p in self.policies
            if p.target_tracking is not None
        )


def render_hpa(
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    resource: str,
    deployment: str,
    scaling: Scaling,
) -> dict[str, Any] | None:
    """The HPA for ``deployment``, or None when no policy is target tracking."""
    tracking = scaling.tracking
    if not tracking:
        return None
    skipped = sorted(p.policy_name for p in scaling.policies if p.target_tracking is None)
    annotations = {"dockyard.io/policies": ",".join(n for n, _ in tracking)}
    if skipped:
        annotations[NOT_RENDERED_ANNOTATION] = "step scaling policies: " + ", ".join(skipped)
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
        "minReplicas": max(1, scaling.target.min_capacity),
        "maxReplicas": max(1, scaling.target.max_capacity, scaling.target.min_capacity),
        "metrics": [_metric(config) for _, config in tracking],
        "behavior": {"scaleDown": _scale_down([config for _, config in tracking])},
    }
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(name, namespace, dict(labels), resource, annotations),
        "spec": spec,
    }


def _metric(config: TargetTracking) -> dict[str, Any]:
    if config.metric is MetricType.REQUESTS:
        return {
            "type": "Pods",
            "pods": {
                "metric": {"name": REQUESTS_METRIC},
                "target": {"type": "AverageValue", "averageValue": _quantity(config.target_value)},
            },
        }
    resource = "cpu" if config.metric is MetricType.CPU else "memory"
    return {
        "type": "Resource",
        "resource": {
            "name": resource,
            "target": {"type": "Utilization", "averageUtilization": round(config.target_value)},
        },
    }


def _scale_down(configs: Sequence[TargetTracking]) -> dict[str, Any]:
    window = min(MAX_STABILIZATION_S, max(c.scale_in_cooldown_s for c in configs))
    rule: dict[str, Any] = {"stabilizationWindowSeconds": window}
    if all(c.disable_scale_in for c in configs):
        rule["selectPolicy"] = "Disabled"
    return rule


def _quantity(value: float) -> str:
    """A Kubernetes quantity for ``value`` (milli-units keep three decimals exactly)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{round(value * 1000)}m"


def hpa_warnings(manifests: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per CPU/memory HPA metric whose target's containers lack that request."""
    deployments = {
        (m["metadata"].get("namespace", ""), m["metadata"]["name"]): m
        for m in manifests
        if m["kind"] == "Deployment"
    }
    warnings = []
    for hpa in manifests:
        if hpa["kind"] != "HorizontalPodAutoscaler":
            continue
        meta = hpa["metadata"]
        target = deployments.get((meta.get("namespace", ""), hpa["spec"]["scaleTargetRef"]["name"]))
        if target is None:
            continue
        containers = target["spec"]["template"]["spec"]["containers"]
        for metric in hpa["spec"]["metrics"]:
            if metric["type"] != "Resource":
                continue
            resource = metric["resource"]["name"]
            missing = [
                c["name"]
                for c in containers
                if resource not in c.get("resources", {}).get("requests", {})
            ]
            if missing:
                field = "cpu" if resource == "cpu" else "memoryReservation"
                warnings.append(
                    f"HorizontalPodAutoscaler {meta['name']}: the {resource} target needs a "
                    f"{resource} request on every container, and {', '.join(missing)} has "
                    f"none: set `{field}` on it in the task definition"
                )
    return warnings
