"""The Kubernetes adapter against the official client, with a fake at the HTTP layer.

No API server can run here, so the client's connection pool is replaced by one that
records each request and answers with the JSON a server would send. Everything above
it is the real client: the typed API builds the paths, query strings and headers,
serializes the body and deserializes the answer into its typed models. The tests pin
the exact requests server-side apply needs (``PATCH``, ``fieldManager=dockyard``,
``force=true``, ``application/apply-patch+yaml``) and the read-back into Dockyard's
statuses.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3

sys.path.insert(0, str(Path(__file__).parents[1] / "kube"))
import shapes

from dockyard.adapters.cluster.connect import connect, kubeconfig_path
from dockyard.adapters.cluster.kubernetes_api import ClusterError, KubernetesCluster
from dockyard.control.endpoint import EndpointStatus
from dockyard.control.task_state import TaskStatus
from dockyard.control.training_status import SecondaryStatus, TrainingJobStatus
from dockyard.errors import Conflict, SpecError
from dockyard.kube import status as kube_status
from dockyard.kube.bundle import ordered
from dockyard.kube.training import render_training_job
from dockyard.kube.workloads import RenderOptions, render_endpoint
from dockyard.settings import Settings

pytestmark = pytest.mark.unit

SERVER = "https://cluster.example:6443"


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeServer:
    """Stands in for urllib3's pool manager: records requests, answers from ``routes``."""

    routes: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    def request(self, method: str, url: str, **kwargs: Any) -> urllib3.HTTPResponse:
        parts = urlsplit(url)
        body = kwargs.get("body")
        self.sent.append(
            Sent(
                method,
                parts.path,
                parse_qs(parts.query),
                dict(kwargs.get("headers") or {}),
                json.loads(body) if body else None,
            )
        )
        if (method, parts.path) in self.routes:
            status, answer = self.routes[(method, parts.path)]
        elif method == "PATCH":
            status, answer = 200, json.loads(body)  # an apply answers with the object
        else:
            status, answer = 404, {"kind": "Status", "reason": "NotFound", "code": 404}
        return urllib3.HTTPResponse(
            body=json.dumps(answer).encode(),
            status=status,
            headers={"Content-Type": "application/json"},
            preload_content=False,
        )


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": SERVER}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def cluster(kubeconfig: Path, server: FakeServer) -> KubernetesCluster:
    cluster = KubernetesCluster.from_kubeconfig(kubeconfig)
    cluster.api_client.rest_client.pool_manager = server
    return cluster


def endpoint_manifests() -> list[dict[str, Any]]:
    record, variants = shapes.endpoint()
    return ordered(render_endpoint(record, variants, RenderOptions(namespace="ml")))


def test_apply_is_a_server_side_apply_per_object_in_order(
    cluster: KubernetesCluster, server: FakeServer
) -> None:
    manifests = endpoint_manifests()
    applied = cluster.apply(manifests)

    assert [s.method for s in server.sent] == ["PATCH"] * len(manifests)
    names = [m["metadata"]["name"] for m in manifests]
    assert [s.path for s in server.sent] == [
        f"/api/v1/namespaces/ml/persistentvolumeclaims/{names[0]}",
        f"/api/v1/namespaces/ml/persistentvolumeclaims/{names[1]}",
        "/api/v1/namespaces/ml/services/iris",
        f"/apis/apps/v1/namespaces/ml/deployments/{names[3]}",
        f"/apis/apps/v1/namespaces/ml/deployments/{names[4]}",
    ]
    for sent, manifest in zip(server.sent, manifests, strict=True):
        assert sent.query == {"fieldManager": ["dockyard"], "force": ["true"]}
        assert sent.headers["Content-Type"] == "application/apply-patch+yaml"
        assert sent.headers["authorization"] == "Bearer t0ken"
        assert sent.body == manifest  # the rendered object, unchanged
    assert applied[-1] == f"Deployment/ml/{names[4]}"


def test_a_training_job_applies_its_namespace_cluster_wide(
    cluster: KubernetesCluster, server: FakeServer
) -> None:
    cluster.apply(ordered(render_training_job(shapes.training_job(2), RenderOptions())))
    paths = [s.path for s in server.sent]
    assert paths[0] == "/api/v1/namespaces/training-iris-train"
    assert "/api/v1/namespaces/training-iris-train/services/algo-2" in paths
    assert paths[-1] == "/apis/batch/v1/namespaces/training-iris-train/jobs/iris-train"


def deployment_status(name: str, desired: int, available: int, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ml"},
        "spec": {
            "replicas": desired,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
        "status": {"replicas": desired, "availableReplicas": available, **extra},
    }


def test_read_back_maps_deployments_and_pods_to_the_endpoint_status(
    cluster: KubernetesCluster, server: FakeServer
) -> None:
    base = "/apis/apps/v1/namespaces/ml/deployments"
    manifests = endpoint_manifests()
    first, canary = (m["metadata"]["name"] for m in manifests if m["kind"] == "Deployment")
    server.routes[("GET", f"{base}/{first}/status")] = (200, deployment_status(first, 2, 2))
    server.routes[("GET", f"{base}/{canary}/status")] = (200, deployment_status(canary, 1, 0))
    server.routes[("GET", "/api/v1/namespaces/ml/pods")] = (
        200,
        {
            "kind": "PodList",
            "items": [{"status": {"phase": "Running"}}] * 2 + [{"status": {"phase": "Pending"}}],
        },
    )
    observed = cluster.observe("endpoint/iris", manifests)

    pods = next(s for s in server.sent if s.path.endswith("/pods"))
    assert pods.query["labelSelector"] == ["dockyard.io/kind=endpoint,dockyard.io/resource=iris"]
    assert observed.pod_phases == {"Pending": 1, "Running": 2}
    assert [d.available for d in observed.deployments] == [2, 0]
    assert kube_status.endpoint_status(observed.deployments) == (EndpointStatus.CREATING, None)
    assert kube_status.service_counts(observed.deployments[1]) == {
        "desiredCount": 1,
        "runningCount": 0,
        "pendingCount": 1,
    }


def test_a_stalled_rollout_fails_the_endpoint_with_the_clusters_reason() -> None:
    stalled = kube_status.DeploymentStatus(
        "iris-alltraffic",
        2,
        conditions=(
            kube_status.Condition(
                "Progressing", "False", "ProgressDeadlineExceeded", "ReplicaSet has timed out"
            ),
        ),
    )
    status, reason = kube_status.endpoint_status([stalled])
    assert status is EndpointStatus.FAILED and reason is not None and "timed out" in reason


def job_status(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "iris-train"},
        "spec": {"completions": 2, "template": {"spec": {"containers": []}}},
        "status": status,
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({}, (TrainingJobStatus.IN_PROGRESS, SecondaryStatus.STARTING)),
        ({"active": 2}, (TrainingJobStatus.IN_PROGRESS, SecondaryStatus.TRAINING)),
        ({"succeeded": 2}, (TrainingJobStatus.COMPLETED, SecondaryStatus.COMPLETED)),
        (
            {
                "failed": 1,
                "conditions": [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit",
                    },
                ],
            },
            (TrainingJobStatus.FAILED, SecondaryStatus.FAILED),
        ),
        (
            {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]},
            (TrainingJobStatus.STOPPED, SecondaryStatus.MAX_RUNTIME_EXCEEDED),
        ),
    ],
)
def test_read_back_maps_the_indexed_job_to_the_training_status(
    cluster: KubernetesCluster,
    server: FakeServer,
    status: dict[str, Any],
    expected: tuple[TrainingJobStatus, SecondaryStatus],
) -> None:
    namespace = "training-iris-train"
    path = f"/apis/batch/v1/namespaces/{namespace}/jobs/iris-train/status"
    server.routes[("GET", path)] = (200, job_status(**status))
    pods = f"/api/v1/namespaces/{namespace}/pods"
    server.routes[("GET", pods)] = (200, {"kind": "PodList", "items": []})
    manifests = ordered(render_training_job(shapes.training_job(2), RenderOptions()))
    observed = cluster.observe("training-job/iris-train", manifests)
    (job,) = observed.jobs
    assert kube_status.training_status(job)[:2] == expected


def test_a_standalone_tasks_job_and_pod_give_its_last_status() -> None:
    job = kube_status.JobStatus("task-x", 1, active=1)
    assert kube_status.task_status(job, {"Pending": 1}) is TaskStatus.PENDING
    assert kube_status.task_status(job, {"Running": 1}) is TaskStatus.RUNNING
    done = kube_status.JobStatus("task-x", 1, succeeded=1)
    assert kube_status.task_status(done, {"Succeeded": 1}) is TaskStatus.STOPPED


def test_a_refusal_is_a_cluster_error_naming_the_status(
    cluster: KubernetesCluster, server: FakeServer
) -> None:
    path = "/api/v1/namespaces/ml/services/iris"
    server.routes[("PATCH", path)] = (403, {"kind": "Status", "reason": "Forbidden"})
    with pytest.raises(ClusterError, match="403"):
        cluster.apply([m for m in endpoint_manifests() if m["kind"] == "Service"])


def test_a_missing_kubeconfig_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist") as refused:
        KubernetesCluster.from_kubeconfig(tmp_path / "nope")
    assert refused.value.field == "DOCKYARD_KUBECONFIG"


def test_a_job_whose_template_changed_is_refused_with_the_fix_not_recreated(
    cluster: KubernetesCluster, server: FakeServer
) -> None:
    namespace = "training-iris-train"
    path = f"/apis/batch/v1/namespaces/{namespace}/jobs/iris-train"
    invalid = {
        "kind": "Status",
        "reason": "Invalid",
        "code": 422,
        "message": 'Job.batch "iris-train" is invalid: spec.template: Invalid value: '
        "field is immutable",
    }
    server.routes[("PATCH", path)] = (422, invalid)
    manifests = ordered(render_training_job(shapes.training_job(2), RenderOptions()))
    with pytest.raises(Conflict) as refused:
        cluster.apply(manifests)
    assert refused.value.resource == f"Job/{namespace}/iris-train"
    assert f"kubectl delete job -n {namespace} iris-train" in (refused.value.hint or "")
    assert all(s.method == "PATCH" for s in server.sent)  # nothing deleted


def test_what_apply_returns_is_what_the_read_back_asks_about(
    cluster: KubernetesCluster, server: FakeServer
) -> None:
    """The records keep only apply's KIND/NAMESPACE/NAME list; the sync observes from it."""
    applied = cluster.apply(endpoint_manifests())
    server.sent.clear()
    base = "/apis/apps/v1/namespaces/ml/deployments"
    stubs = kube_status.applied_workloads("endpoint/iris", applied)
    for stub in stubs:
        name = stub["metadata"]["name"]
        server.routes[("GET", f"{base}/{name}/status")] = (200, deployment_status(name, 1, 1))
    server.routes[("GET", "/api/v1/namespaces/ml/pods")] = (200, {"kind": "PodList", "items": []})

    observed = cluster.observe("endpoint/iris", stubs)
    assert [s.method for s in server.sent] == ["GET", "GET", "GET"]
    assert server.sent[-1].query["labelSelector"] == [
        "dockyard.io/kind=endpoint,dockyard.io/resource=iris"
    ]
    assert kube_status.endpoint_status(observed.deployments) == (EndpointStatus.IN_SERVICE, None)
    assert kube_status.replica_counts(observed.deployments) == kube_status.Replicas(2, 2, 0)


def test_the_kubernetes_backend_needs_a_kubeconfig(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, backend="kubernetes")
    with pytest.raises(SpecError) as refused:
        connect(settings, environ={})
    assert refused.value.field == "DOCKYARD_KUBECONFIG"
    assert "DOCKYARD_KUBECONFIG" in (refused.value.hint or "")
    assert connect(Settings(state_dir=tmp_path), environ={}) is None  # local: no cluster


def test_the_standard_kubeconfig_variable_is_read_after_dockyards(
    tmp_path: Path, kubeconfig: Path
) -> None:
    settings = Settings(state_dir=tmp_path, backend="kubernetes")
    standard = {"KUBECONFIG": f"{kubeconfig}:{tmp_path / 'other'}"}
    assert kubeconfig_path(settings, standard) == kubeconfig
    assert isinstance(connect(settings, standard), KubernetesCluster)
    own = settings.model_copy(update={"kubeconfig": tmp_path / "own"})
    assert kubeconfig_path(own, standard) == tmp_path / "own"


# -- deleting ---------------------------------------------------------------------------------

#: what a delete answers (a Status; some kinds answer the object being deleted instead)
DELETED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "code": 200}


def test_delete_sends_one_background_delete_per_object_in_the_order_given(
    cluster: KubernetesCluster, server: FakeServer
) -> None:
    objects = [
        "HorizontalPodAutoscaler/ml/web",
        "Deployment/ml/web",
        "Job/training-fit/fit",
        "Service/ml/web",
        "PersistentVolumeClaim/ml/web-model",
        "ConfigMap/training-fit/fit-config",
        "Secret/ml/dockyard-secret-token",
        "ServiceAccount/ml/dockyard-role-app",
    ]
    paths = [
        "/apis/autoscaling/v2/namespaces/ml/horizontalpodautoscalers/web",
        "/apis/apps/v1/namespaces/ml/deployments/web",
        "/apis/batch/v1/namespaces/training-fit/jobs/fit",
        "/api/v1/namespaces/ml/services/web",
        "/api/v1/namespaces/ml/persistentvolumeclaims/web-model",
        "/api/v1/namespaces/training-fit/configmaps/fit-config",
        "/api/v1/namespaces/ml/secrets/dockyard-secret-token",
        "/api/v1/namespaces/ml/serviceaccounts/dockyard-role-app",
    ]
    for path in paths:
        server.routes[("DELETE", path)] = (200, DELETED)

    assert cluster.delete_objects(objects) == objects
    assert [(s.method, s.path) for s in server.sent] == [("DELETE", p) for p in paths]
    for sent in server.sent:
        # always sent: the API's default for a Job would orphan its pods
        assert sent.query == {"propagationPolicy": ["Background"]}
        assert sent.headers["authorization"] == "Bearer t0ken"


def test_an_object_already_gone_counts_as_deleted(
    cluster: KubernetesCluster, server: FakeServer
) -> None:
    """The fake answers 404 to every path it was not told about."""
    gone = cluster.delete_objects(["Deployment/ml/web", "Service/ml/web"])
    assert gone == ["Deployment/ml/web", "Service/ml/web"]
    assert [s.method for s in server.sent] == ["DELETE", "DELETE"]


def test_a_refused_delete_is_a_cluster_error_with_the_apis_message_and_stops_there(
    cluster: KubernetesCluster, server: FakeServer
) -> None:
    forbidden = {
        "kind": "Status",
        "reason": "Forbidden",
        "code": 403,
        "message": 'deployments.apps "web" is forbidden: User "ci" cannot delete resource',
    }
    server.routes[("DELETE", "/apis/apps/v1/namespaces/ml/deployments/web")] = (403, forbidden)
    with pytest.raises(ClusterError) as refused:
        cluster.delete_objects(["Deployment/ml/web", "Service/ml/web"])
    assert refused.value.message == (
        'the cluster answered 403 Forbidden: deployments.apps "web" is forbidden: '
        'User "ci" cannot delete resource'
    )
    assert [s.path for s in server.sent] == ["/apis/apps/v1/namespaces/ml/deployments/web"]


def test_a_cluster_that_does_not_answer_is_a_cluster_error(
    cluster: KubernetesCluster, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(method: str, url: str, **kwargs: Any) -> urllib3.HTTPResponse:
        server.sent.append(Sent(method, urlsplit(url).path, {}, {}, None))
        raise urllib3.exceptions.MaxRetryError(None, url, reason=ConnectionRefusedError(111))  # type: ignore[arg-type]

    monkeypatch.setattr(server, "request", unreachable)
    with pytest.raises(ClusterError, match="cannot be reached"):
        cluster.delete_objects(["Deployment/ml/web"])
    assert [s.method for s in server.sent] == ["DELETE"]


def test_an_unknown_kind_is_refused_before_any_request(
    cluster: KubernetesCluster, server: FakeServer
) -> None:
    with pytest.raises(SpecError, match="Ingress"):
        cluster.delete_objects(["Ingress/ml/web"])
    assert server.sent == []
