"""The Kubernetes backend's server glue: apply through the cluster port, read status back.

A daemon whose :class:`Platform` has a cluster (``DOCKYARD_BACKEND=kubernetes``) runs
on the in-memory fakes with :class:`~dockyard.testing.cluster.FakeCluster` as the
cluster: the test creates, updates, deletes and stops resources through the API (and
applies them through the CLI, through its real API client), plays the cluster's part
by setting what its workloads report (or refusing), steps the control loop, and reads
the result where a user reads it — DescribeEndpoint, DescribeServices,
DescribeTrainingJob, DescribeTasks, the events — and what reached the cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import kubernetes_validate
import pytest
import yaml
from conftest import World
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dockyard.adapters.artifacts.local import LocalArtifactStore
from dockyard.adapters.cluster.kubernetes_api import ClusterError
from dockyard.adapters.store.memory import MemoryStore
from dockyard.cli import context
from dockyard.cli.client import ApiClient
from dockyard.cli.main import app as cli_app
from dockyard.control.task_state import ContainerStatus, DesiredStatus, StopCode, TaskStatus
from dockyard.errors import Conflict
from dockyard.kube import KUBERNETES_VERSION
from dockyard.kube.status import Condition, DeploymentStatus, JobStatus
from dockyard.server import endpoints, task_definitions
from dockyard.server.app import create_app
from dockyard.server.cluster_sync import RETRY_MAX_S, SYNC_INTERVAL_S, ClusterSync
from dockyard.server.control_plane import ControlPlane
from dockyard.server.platform import Platform
from dockyard.spec.task_definition import parse_task_definition
from dockyard.testing import FakeHealthProbe
from dockyard.testing.cluster import FakeCluster

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import FakeClock, WatchedEngine

pytestmark = pytest.mark.unit

IMAGE = "model:1"


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def kube_world(
    settings: Any,
    engine: WatchedEngine,
    lb: Any,
    clock: FakeClock,
    cluster: FakeCluster,
) -> Iterator[World]:
    """The daemon's assembly with a cluster: what ``DOCKYARD_BACKEND=kubernetes`` opens."""
    platform = Platform(
        settings,
        MemoryStore(),
        engine,
        lb,
        LocalArtifactStore(settings.artifacts_dir),
        FakeHealthProbe(engine),
        clock=clock,
        cluster=cluster,
    )
    control_plane = ControlPlane(platform)
    control_plane.loop.clock = clock
    world = World(
        settings, engine, lb, platform.probe, platform.store, platform, control_plane, clock
    )
    yield world
    control_plane.stop()


@pytest.fixture
def client(kube_world: World) -> Iterator[TestClient]:
    with TestClient(create_app(kube_world.platform, kube_world.control_plane)) as client:
        yield client


def register(world: World, family: str = "web", *, cpu: int | None = None) -> str:
    container: dict[str, Any] = {
        "name": "app",
        "image": IMAGE,
        "portMappings": [{"containerPort": 8080}],
        "secrets": [{"name": "TOKEN", "valueFrom": "web/token"}],
    }
    if cpu is not None:
        container["cpu"] = cpu
    definition = parse_task_definition({"family": family, "containerDefinitions": [container]})
    return task_definitions.register(world.store, definition).key


def create_service(client: TestClient, world: World, **definition: Any) -> None:
    register(world, **definition)
    request = {"serviceName": "web", "taskDefinition": "web:1", "desiredCount": 2}
    response = client.post("/v1/services", json=request)
    assert response.status_code == 201, response.text


def applied(client: TestClient, ref: str) -> dict[str, Any]:
    response = client.post(f"/v1/kubernetes/apply/{ref}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- without a cluster ------------------------------------------------------------------------


def test_apply_without_a_cluster_is_refused_with_the_setting_and_changes_nothing(
    world: World,
) -> None:
    with TestClient(create_app(world.platform, world.control_plane)) as local:
        world.deploy(count=1)
        response = local.post("/v1/kubernetes/apply/iris")
    assert response.status_code == 409
    body = response.json()
    assert body["field"] == "DOCKYARD_BACKEND"
    assert "DOCKYARD_BACKEND=kubernetes" in body["hint"]
    assert "DOCKYARD_KUBECONFIG" in body["hint"]
    record = world.store.endpoints.require("iris")
    assert record.cluster is None
    assert endpoints.describe(world.platform, "iris")["Backend"] == "local"


# -- endpoints --------------------------------------------------------------------------------


def test_an_applied_endpoint_runs_on_the_cluster_and_reports_its_status(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    kube_world.deploy(count=2)
    kube_world.step()
    assert kube_world.engine.containers() == []  # the kubernetes backend starts nothing here
    assert kube_world.status() == "Creating"
    (automatic,) = cluster.applies  # a create is applied without `export --apply`

    body = applied(client, "iris")  # applying again changes nothing
    assert body["Resource"] == "endpoint/iris"
    assert body["Backend"] == "kubernetes"
    assert body["Applied"] == automatic == cluster.applies[1]
    assert body["Deleted"] == []
    (deployment,) = cluster.of_kind("Deployment")
    name = deployment["metadata"]["name"]
    for manifest in cluster.objects.values():
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    record = kube_world.store.endpoints.require("iris")
    assert record.cluster is not None and record.cluster.backend == "kubernetes"
    assert f"Deployment/default/{name}" in record.cluster.objects
    variant_service = kube_world.store.services.require(record.variants[0].service_name)
    assert variant_service.cluster is not None

    cluster.deployments[name] = DeploymentStatus(name, desired=2, replicas=2, available=1)
    kube_world.step()
    described = endpoints.describe(kube_world.platform, "iris")
    assert described["EndpointStatus"] == "Creating"
    assert (described["Backend"], described["HealthyReplicas"]) == ("kubernetes", 1)
    assert described["PendingReplicas"] == 1

    cluster.deployments[name] = DeploymentStatus(name, desired=2, replicas=2, available=2)
    kube_world.step()  # asked again only once the sync interval has passed
    assert endpoints.describe(kube_world.platform, "iris")["HealthyReplicas"] == 1
    kube_world.clock.advance(SYNC_INTERVAL_S)
    kube_world.step()
    described = endpoints.describe(kube_world.platform, "iris")
    assert (described["EndpointStatus"], described["HealthyReplicas"]) == ("InService", 2)
    assert kube_world.engine.containers() == []


def test_a_stalled_rollout_fails_the_endpoint_with_the_clusters_reason(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    kube_world.deploy(count=1)
    applied(client, "iris")
    (deployment,) = cluster.of_kind("Deployment")
    name = deployment["metadata"]["name"]
    stalled = Condition("Progressing", "False", "ProgressDeadlineExceeded", "image not pulled")
    cluster.deployments[name] = DeploymentStatus(name, desired=1, conditions=(stalled,))
    kube_world.step()
    described = endpoints.describe(kube_world.platform, "iris")
    assert described["EndpointStatus"] == "Failed"
    assert "image not pulled" in described["FailureReason"]


# -- ECS services and secrets -----------------------------------------------------------------


def test_an_ecs_service_applies_with_its_secret_value_which_no_export_carries(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    create_service(client, kube_world)
    response = client.put("/v1/secrets/web/token", json={"SecretString": "s3cret"})
    assert response.status_code < 300, response.text

    applied(client, "service/web")
    (secret,) = cluster.of_kind("Secret")
    assert secret["stringData"] == {"value": "s3cret"}
    export = client.get("/v1/kubernetes/manifests/service/web").json()
    assert all("stringData" not in m for m in export["Manifests"])
    assert "s3cret" not in str(export)

    (deployment,) = cluster.of_kind("Deployment")
    name = deployment["metadata"]["name"]
    cluster.deployments[name] = DeploymentStatus(name, desired=2, replicas=3, available=1)
    kube_world.step()
    response = client.get("/v1/services/web")
    assert response.status_code == 200, response.text
    service = response.json()["service"]
    assert (service["runningCount"], service["pendingCount"]) == (1, 2)


def test_a_missing_secret_refuses_the_apply_before_anything_reaches_the_cluster(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    create_service(client, kube_world)
    response = client.post("/v1/kubernetes/apply/service/web")
    assert response.status_code == 400
    assert "dockyard secret put web/token" in response.json()["hint"]
    assert cluster.applies == []
    assert kube_world.store.services.require("web").cluster is None


# -- training jobs and tasks ------------------------------------------------------------------


def test_a_training_job_reads_back_training_then_completed(
    kube_world: World, client: TestClient, cluster: FakeCluster, data_dir: Path
) -> None:
    kube_world.train("fit", data_dir, hosts=2)
    kube_world.step()
    assert kube_world.engine.containers() == []
    applied(client, "fit")
    (job,) = cluster.of_kind("Job")
    name = job["metadata"]["name"]

    cluster.jobs[name] = JobStatus(name, completions=2, active=2)
    kube_world.step()
    described = kube_world.job("fit")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == (
        "InProgress",
        "Training",
    )
    assert described["TrainingStartTime"] is not None

    cluster.jobs[name] = JobStatus(name, completions=2, succeeded=2)
    kube_world.clock.advance(SYNC_INTERVAL_S)
    kube_world.step()
    described = kube_world.job("fit")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == (
        "Completed",
        "Completed",
    )
    assert [t["Status"] for t in described["SecondaryStatusTransitions"]] == [
        "Starting",
        "Training",
        "Completed",
    ]
    kube_world.clock.advance(SYNC_INTERVAL_S)
    asked = len(cluster.observed)
    kube_world.step()  # a job that has ended is not asked about again
    assert len(cluster.observed) == asked


def test_a_failed_job_carries_the_clusters_failure_reason(
    kube_world: World, client: TestClient, cluster: FakeCluster, data_dir: Path
) -> None:
    kube_world.train("fit", data_dir)
    applied(client, "training-job/fit")
    (job,) = cluster.of_kind("Job")
    name = job["metadata"]["name"]
    failed = Condition("Failed", "True", "BackoffLimitExceeded", "exit code 2")
    cluster.jobs[name] = JobStatus(name, completions=1, failed=1, conditions=(failed,))
    kube_world.step()
    described = kube_world.job("fit")
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"] == "AlgorithmError: exit code 2"


def run_applied_task(kube_world: World, client: TestClient, cluster: FakeCluster) -> str:
    """RunTask of a one-container definition, applied: its task id (its Job is the
    cluster's only one)."""
    register(kube_world, "once")
    response = client.post("/v1/tasks", json={"taskDefinition": "once:1"})
    assert response.status_code == 201, response.text
    task_id = response.json()["tasks"][0]["taskArn"].rsplit("/", 1)[-1]
    client.put("/v1/secrets/web/token", json={"SecretString": "x"})
    applied(client, f"task/{task_id}")
    return str(task_id)


def job_name(cluster: FakeCluster) -> str:
    (job,) = cluster.of_kind("Job")
    return str(job["metadata"]["name"])


def test_a_task_reports_the_clusters_last_status(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    task_id = run_applied_task(kube_world, client, cluster)
    cluster.jobs[job_name(cluster)] = JobStatus(job_name(cluster), 1, active=1)
    cluster.pod_phases[f"task/{task_id}"] = {"Running": 1}
    kube_world.step()
    assert kube_world.store.tasks.require(task_id).cluster.status == "RUNNING"  # type: ignore[union-attr]


def test_a_task_whose_job_ended_is_stopped_and_no_longer_synced(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    task_id = run_applied_task(kube_world, client, cluster)
    cluster.jobs[job_name(cluster)] = JobStatus(job_name(cluster), 1, succeeded=1)
    kube_world.step()

    task = kube_world.store.tasks.require(task_id).task
    assert (task.last_status, task.desired_status) == (TaskStatus.STOPPED, DesiredStatus.STOPPED)
    assert task.stop_code is StopCode.ESSENTIAL_CONTAINER_EXITED
    assert task.stopped_reason == "Essential container in task exited"
    assert {c.last_status for c in task.containers} == {ContainerStatus.STOPPED}
    synced = ClusterSync(kube_world.platform, cluster).keys()
    assert f"task/{task_id}" not in synced


# -- warnings and the CLI ---------------------------------------------------------------------


def cpu_policy(client: TestClient) -> None:
    resource = {
        "ServiceNamespace": "ecs",
        "ResourceId": "service/default/web",
        "ScalableDimension": "ecs:service:DesiredCount",
    }
    response = client.post(
        "/v1/autoscaling/targets", json={**resource, "MinCapacity": 1, "MaxCapacity": 4}
    )
    assert response.status_code < 300, response.text
    policy = {
        **resource,
        "PolicyName": "cpu",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 60.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
        },
    }
    response = client.post("/v1/autoscaling/policies", json=policy)
    assert response.status_code < 300, response.text


@pytest.fixture
def cli(kube_world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    api = ApiClient(kube_world.settings)
    api._http = client
    monkeypatch.setattr(context, "_client", api)
    return CliRunner()


def test_a_cpu_target_over_containers_without_requests_is_warned_of(
    kube_world: World, client: TestClient, cli: CliRunner
) -> None:
    create_service(client, kube_world)
    cpu_policy(client)
    body = client.get("/v1/kubernetes/manifests/service/web").json()
    (warning,) = body["Warnings"]
    assert "cpu request" in warning and "app" in warning and "`cpu`" in warning

    result = cli.invoke(cli_app, ["export", "kubernetes", "service/web"])
    assert result.exit_code == 0, result.output
    assert f"# WARNING: {warning}" in result.stdout
    assert "warning:" in result.stderr
    assert [d["kind"] for d in yaml.safe_load_all(result.stdout) if d][-1] == (
        "HorizontalPodAutoscaler"
    )


def test_containers_with_requests_give_no_warning(kube_world: World, client: TestClient) -> None:
    create_service(client, kube_world, cpu=256)
    cpu_policy(client)
    assert client.get("/v1/kubernetes/manifests/service/web").json()["Warnings"] == []


def test_the_cli_applies_and_says_what(
    kube_world: World, cli: CliRunner, cluster: FakeCluster
) -> None:
    kube_world.deploy(count=1)
    result = cli.invoke(cli_app, ["export", "kubernetes", "iris", "--apply"])
    assert result.exit_code == 0, result.output
    assert [line.removeprefix("applied ") for line in result.stdout.splitlines()] == (
        cluster.applies[0]
    )
    assert "read back" in result.stderr


def test_the_cli_says_why_without_a_cluster(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(create_app(world.platform, world.control_plane)) as local:
        api = ApiClient(world.settings)
        api._http = local
        monkeypatch.setattr(context, "_client", api)
        world.deploy(count=1)
        result = CliRunner().invoke(cli_app, ["export", "kubernetes", "iris", "--apply"])
    assert isinstance(result.exception, Conflict)
    assert "DOCKYARD_BACKEND" in str(result.exception)


# -- creates, updates, deletes and stops follow the API on their own ---------------------------


def events_of(world: World, kind: str, name: str) -> list[str]:
    return [e.message for e in world.store.events(kind, name)]


def deployment_named(cluster: FakeCluster) -> tuple[str, dict[str, Any]]:
    (deployment,) = cluster.of_kind("Deployment")
    return deployment["metadata"]["name"], deployment


def in_service(world: World, cluster: FakeCluster) -> str:
    """Deploy iris with 2 replicas, let the daemon apply it and the cluster run it."""
    world.deploy(count=2)
    world.step()
    name, _ = deployment_named(cluster)
    cluster.deployments[name] = DeploymentStatus(name, desired=2, replicas=2, available=2)
    world.clock.advance(SYNC_INTERVAL_S)
    world.step()
    assert world.status() == "InService"
    return name


def test_an_endpoints_new_capacity_is_applied_again_on_its_own(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    name = in_service(kube_world, cluster)
    assert len(cluster.applies) == 1
    kube_world.clock.advance(SYNC_INTERVAL_S)
    kube_world.step()
    assert len(cluster.applies) == 1  # the records render as applied: nothing to apply

    response = client.post("/v1/endpoints/iris/capacity", json={"DesiredInstanceCount": 3})
    assert response.status_code == 200, response.text
    kube_world.step()  # the API's change is looked at now, not at the next sync interval
    assert len(cluster.applies) == 2
    _, deployment = deployment_named(cluster)
    assert deployment["metadata"]["name"] == name
    assert deployment["spec"]["replicas"] == 3
    assert "applied to kubernetes" in events_of(kube_world, "endpoint", "iris")[-1]


def test_deleting_an_endpoint_deletes_its_objects_then_the_endpoint(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    in_service(kube_world, cluster)
    record = kube_world.store.endpoints.require("iris")
    assert record.cluster is not None
    applied_objects = set(record.cluster.objects)

    response = client.delete("/v1/endpoints/iris")
    assert response.status_code == 202, response.text
    assert kube_world.status() == "Deleting"
    kube_world.step()

    (deleted,) = cluster.deletes
    assert set(deleted) == applied_objects
    assert deleted[0].startswith("Deployment/")  # the replicas go before what they use
    assert cluster.objects == {}
    assert kube_world.store.endpoints.get("iris") is None
    assert all(kube_world.store.services.get(v.service_name) is None for v in record.variants)
    assert client.get("/v1/endpoints/iris").status_code == 404
    assert events_of(kube_world, "endpoint", "iris")[-1].startswith("deleted")


def test_a_refused_delete_keeps_the_endpoint_deleting_says_why_and_retries(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    in_service(kube_world, cluster)
    cluster.refusal = ClusterError("the cluster answered 403 Forbidden: cannot delete")
    client.delete("/v1/endpoints/iris")
    kube_world.step()
    assert kube_world.status() == "Deleting"
    assert cluster.deletes == []
    (failed,) = [m for m in events_of(kube_world, "endpoint", "iris") if "failed" in m]
    assert "403 Forbidden: cannot delete" in failed

    kube_world.step()  # backing off: the cluster is not asked again at once
    kube_world.clock.advance(RETRY_MAX_S)
    kube_world.step()  # asked again: refused again, said once
    assert [m for m in events_of(kube_world, "endpoint", "iris") if "failed" in m] == [failed]
    assert kube_world.status() == "Deleting"

    cluster.refusal = None
    kube_world.clock.advance(RETRY_MAX_S)
    kube_world.step()
    assert len(cluster.deletes) == 1
    assert kube_world.store.endpoints.get("iris") is None


def test_an_ecs_service_is_applied_once_its_secret_exists_and_updates_follow(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    create_service(client, kube_world)  # names secret web/token, not stored yet
    kube_world.step()
    assert cluster.applies == []
    assert kube_world.store.services.require("web").cluster is None
    (failed,) = events_of(kube_world, "service", "web")[-1:]
    assert "apply on the cluster failed" in failed and "dockyard secret put web/token" in failed

    client.put("/v1/secrets/web/token", json={"SecretString": "s3cret"})
    kube_world.clock.advance(RETRY_MAX_S)
    kube_world.step()
    assert len(cluster.applies) == 1
    (secret,) = cluster.of_kind("Secret")
    assert secret["stringData"] == {"value": "s3cret"}

    response = client.post("/v1/services/web", json={"desiredCount": 5})
    assert response.status_code == 200, response.text
    kube_world.step()
    assert len(cluster.applies) == 2
    assert deployment_named(cluster)[1]["spec"]["replicas"] == 5


def test_deleting_an_ecs_service_deletes_its_objects_and_the_service(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    client.put("/v1/secrets/web/token", json={"SecretString": "s3cret"})
    create_service(client, kube_world)
    kube_world.step()
    applied_objects = set(cluster.objects)
    assert any(o.startswith("Secret/") for o in applied_objects)

    response = client.delete("/v1/services/web", params={"force": "true"})
    assert response.status_code == 200, response.text
    kube_world.step()
    (deleted,) = cluster.deletes
    assert set(deleted) == applied_objects  # no other record uses its Secret
    assert kube_world.store.services.get("web") is None
    assert "was deleted" in events_of(kube_world, "service", "web")[-1]


def test_a_secret_another_service_uses_stays_when_one_is_deleted(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    client.put("/v1/secrets/web/token", json={"SecretString": "s3cret"})
    create_service(client, kube_world)
    request = {"serviceName": "api", "taskDefinition": "web:1", "desiredCount": 1}
    assert client.post("/v1/services", json=request).status_code == 201
    kube_world.step()
    (secret,) = [o for o in cluster.objects if o.startswith("Secret/")]

    client.delete("/v1/services/web", params={"force": "true"})
    kube_world.step()
    (deleted,) = cluster.deletes
    assert secret not in deleted and secret in cluster.objects
    assert any(o.startswith("Deployment/") for o in deleted)
    assert kube_world.store.services.get("web") is None


def test_stopping_a_training_job_deletes_its_job_and_keeps_its_data(
    kube_world: World, client: TestClient, cluster: FakeCluster, data_dir: Path
) -> None:
    kube_world.train("fit", data_dir, hosts=2)
    kube_world.step()
    (job,) = cluster.of_kind("Job")
    name = job["metadata"]["name"]
    cluster.jobs[name] = JobStatus(name, completions=2, active=2)
    kube_world.clock.advance(SYNC_INTERVAL_S)
    kube_world.step()
    assert kube_world.job("fit")["SecondaryStatus"] == "Training"

    response = client.post("/v1/training-jobs/fit/stop")
    assert response.status_code == 200, response.text
    kube_world.step()
    assert cluster.deletes == [[f"Job/training-fit/{name}"]]
    assert any(o.startswith("PersistentVolumeClaim/training-fit/") for o in cluster.objects)
    described = kube_world.job("fit")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert [t["Status"] for t in described["SecondaryStatusTransitions"]][-3:] == [
        "Training",
        "Stopping",
        "Stopped",
    ]
    asked = len(cluster.observed)
    kube_world.clock.advance(SYNC_INTERVAL_S)
    kube_world.step()  # a stopped job is the cluster's no more
    assert len(cluster.observed) == asked and len(cluster.deletes) == 1


def test_stopping_a_task_deletes_its_job_and_the_task_stops(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    client.put("/v1/secrets/web/token", json={"SecretString": "x"})
    register(kube_world, "once")
    response = client.post("/v1/tasks", json={"taskDefinition": "once:1"})
    task_id = response.json()["tasks"][0]["taskArn"].rsplit("/", 1)[-1]
    kube_world.step()
    (job,) = cluster.of_kind("Job")

    response = client.post(f"/v1/tasks/{task_id}/stop", json={})
    assert response.status_code == 200, response.text
    kube_world.step()
    (deleted,) = cluster.deletes
    assert f"Job/default/{job['metadata']['name']}" in deleted
    record = kube_world.store.tasks.require(task_id)
    assert record.task.last_status == "STOPPED" and record.task.stopped_at is not None


def test_an_apply_while_the_resource_is_deleted_is_refused(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    kube_world.deploy(count=1)
    kube_world.step()
    cluster.refusal = ClusterError("the cluster answered 503 Service Unavailable")
    client.delete("/v1/endpoints/iris")
    kube_world.step()
    response = client.post("/v1/kubernetes/apply/iris")
    assert response.status_code == 409
    assert "being deleted" in response.json()["message"]
    assert len(cluster.applies) == 1
