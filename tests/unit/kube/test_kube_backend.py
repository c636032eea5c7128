"""Pure parts of the Kubernetes backend: HPA warnings, and what the read-back asks about."""

from __future__ import annotations

from typing import Any

import pytest
import shapes

from dockyard.kube.autoscaling import hpa_warnings
from dockyard.kube.bundle import ordered
from dockyard.kube.status import DeploymentStatus, Replicas, applied_workloads, replica_counts
from dockyard.kube.workloads import RenderOptions, render_endpoint

pytestmark = pytest.mark.unit


def autoscaled_endpoint() -> list[dict[str, Any]]:
    record, variants = shapes.endpoint()
    first = variants[0]
    variants[0] = type(first)(first.record, first.definition, shapes.scaling("iris-AllTraffic"))
    return ordered(render_endpoint(record, variants, RenderOptions(namespace="ml")))


def deployment_of(bundle: list[dict[str, Any]], hpa: dict[str, Any]) -> dict[str, Any]:
    target = hpa["spec"]["scaleTargetRef"]["name"]
    return next(m for m in bundle if m["kind"] == "Deployment" and m["metadata"]["name"] == target)


def test_a_cpu_target_over_containers_without_a_cpu_request_is_named() -> None:
    bundle = autoscaled_endpoint()
    hpa = next(m for m in bundle if m["kind"] == "HorizontalPodAutoscaler")
    for container in deployment_of(bundle, hpa)["spec"]["template"]["spec"]["containers"]:
        container.setdefault("resources", {}).setdefault("requests", {}).pop("cpu", None)
    (warning,) = hpa_warnings(bundle)
    assert warning.startswith(f"HorizontalPodAutoscaler {hpa['metadata']['name']}: the cpu")
    assert "set `cpu`" in warning


def test_requests_on_every_container_leave_nothing_to_warn_of() -> None:
    bundle = autoscaled_endpoint()
    hpa = next(m for m in bundle if m["kind"] == "HorizontalPodAutoscaler")
    for container in deployment_of(bundle, hpa)["spec"]["template"]["spec"]["containers"]:
        container.setdefault("resources", {}).setdefault("requests", {})["cpu"] = "250m"
    assert hpa_warnings(bundle) == []  # the requests-per-target metric needs no request


def test_the_read_back_asks_about_the_workloads_apply_reported() -> None:
    applied = [
        "Namespace//training-fit",
        "ConfigMap/training-fit/fit-config",
        "Service/training-fit/algo-1",
        "Job/training-fit/fit",
    ]
    (job,) = applied_workloads("training-job/fit", applied)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert job["metadata"]["namespace"] == "training-fit"
    assert job["metadata"]["labels"]["dockyard.io/resource"] == "fit"
    assert job["metadata"]["labels"]["dockyard.io/kind"] == "training-job"


def test_replica_counts_sum_every_variant() -> None:
    deployments = [
        DeploymentStatus("a", desired=2, replicas=3, available=2),
        DeploymentStatus("b", desired=1, replicas=1, available=0),
    ]
    assert replica_counts(deployments) == Replicas(desired=3, running=2, pending=2)
