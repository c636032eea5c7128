"""What goes from the cluster when a resource is deleted, stopped or re-rendered (pure)."""

from __future__ import annotations

import pytest
import shapes

from dockyard.kube.bundle import ordered
from dockyard.kube.removal import digest, object_id, removal, stale
from dockyard.kube.training import render_training_job
from dockyard.kube.workloads import RenderOptions, render_service

pytestmark = pytest.mark.unit


def service_bundle() -> list[dict[str, object]]:
    definition = shapes.sidecar_task_definition()
    return ordered(render_service(shapes.ecs_service(definition), definition, RenderOptions()))


def test_a_deleted_service_loses_its_objects_workloads_first_but_keeps_shared_volume_data() -> None:
    bundle = service_bundle()
    ids = [object_id(m) for m in bundle]
    chosen = removal(ids, bundle, in_use=set())

    kinds = [item.split("/", 1)[0] for item in chosen]
    assert kinds[0] == "Deployment"  # its pods stop before what they use goes
    assert kinds.index("Service") < kinds.index("Secret") < kinds.index("ServiceAccount")
    claims = [m for m in bundle if m["kind"] == "PersistentVolumeClaim"]
    shared = [object_id(m) for m in claims if "docker-volume/" in str(m["metadata"])]
    assert shared, "the shape has a shared Docker volume"
    assert not set(shared) & set(chosen)  # its data outlives the service, as on ECS
    assert set(chosen) == set(ids) - set(shared)


def test_a_secret_or_role_another_record_lists_stays() -> None:
    bundle = service_bundle()
    secret = next(object_id(m) for m in bundle if m["kind"] == "Secret")
    role = next(object_id(m) for m in bundle if m["kind"] == "ServiceAccount")
    deployment = next(object_id(m) for m in bundle if m["kind"] == "Deployment")
    chosen = removal([], bundle, in_use={secret, role, deployment})
    assert secret not in chosen and role not in chosen
    assert deployment in chosen  # named after this resource: never another's


def test_recorded_objects_no_longer_rendered_are_deleted_too() -> None:
    chosen = removal(["Deployment/default/web-old", "Service/default/web"], [], in_use=set())
    assert chosen == ["Deployment/default/web-old", "Service/default/web"]


def test_a_stopped_training_job_loses_only_its_job() -> None:
    bundle = ordered(render_training_job(shapes.training_job(2), RenderOptions()))
    chosen = removal([object_id(m) for m in bundle], bundle, in_use=set(), workloads_only=True)
    assert chosen == ["Job/training-iris-train/iris-train"]
    everything = removal([object_id(m) for m in bundle], bundle, in_use=set())
    assert not any(item.startswith("Namespace/") for item in everything)


def test_a_reapply_prunes_what_runs_or_routes_and_keeps_data_and_secrets() -> None:
    previous = [
        "Secret/default/dockyard-secret-old",
        "PersistentVolumeClaim/default/iris-canary-model",
        "Service/default/iris",
        "Deployment/default/iris-canary",
        "Deployment/default/iris-alltraffic",
        "HorizontalPodAutoscaler/default/iris-canary",
    ]
    applied = ["Service/default/iris", "Deployment/default/iris-alltraffic"]
    assert stale(previous, applied, in_use=set()) == [
        "HorizontalPodAutoscaler/default/iris-canary",
        "Deployment/default/iris-canary",
    ]
    assert stale(previous, applied, in_use={"Deployment/default/iris-canary"}) == [
        "HorizontalPodAutoscaler/default/iris-canary"
    ]


def test_the_digest_changes_with_the_objects_only() -> None:
    bundle = service_bundle()
    assert digest(bundle) == digest(service_bundle())
    changed = [dict(m) for m in bundle]
    changed[-1] = {**changed[-1], "spec": {"replicas": 7}}
    assert digest(changed) != digest(bundle)
