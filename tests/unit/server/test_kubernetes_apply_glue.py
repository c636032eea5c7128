"""The Kubernetes backend's server glue: apply through the cluster port, read status back.

A daemon whose :class:`Platform` has a cluster (``DOCKYARD_BACKEND=kubernetes``) runs
on the in-memory fakes with :class:`~dockyard.testing.cluster.FakeCluster` as the
cluster: the test applies resources through the API (and the CLI, through its real API
client), plays the cluster's part by setting what its workloads report, steps the
control loop, and reads the result where a user reads it — DescribeEndpoint,
DescribeServices, DescribeTrainingJob, DescribeTasks.
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
from dockyard.adapters.store.memory import MemoryStore
from dockyard.cli import context
from dockyard.cli.client import ApiClient
from dockyard.cli.main import app as cli_app
from dockyard.errors import Conflict
from dockyard.kube import KUBERNETES_VERSION
from dockyard.kube.status import Condition, DeploymentStatus, JobStatus
from dockyard.server import endpoints, task_definitions
from dockyard.server.app import create_app
from dockyard.server.cluster_sync import SYNC_INTERVAL_S
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

    body = applied(client, "iris")
    assert body["Resource"] == "endpoint/iris"
    assert body["Backend"] == "kubernetes"
    assert body["Applied"] == cluster.applies[0]
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


def test_a_task_reports_the_clusters_last_status(
    kube_world: World, client: TestClient, cluster: FakeCluster
) -> None:
    register(kube_world, "once")
    response = client.post("/v1/tasks", json={"taskDefinition": "once:1"})
    assert response.status_code == 201, response.text
    task_id = response.json()["tasks"][0]["taskArn"].rsplit("/", 1)[-1]
    client.put("/v1/secrets/web/token", json={"SecretString": "x"})
    applied(client, f"task/{task_id}")
    (job,) = cluster.of_kind("Job")
    cluster.jobs[job["metadata"]["name"]] = JobStatus(job["metadata"]["name"], 1, active=1)
    cluster.pod_phases[f"task/{task_id}"] = {"Running": 1}
    kube_world.step()
    assert kube_world.store.tasks.require(task_id).cluster.status == "RUNNING"  # type: ignore[union-attr]


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
