"""`dockyard export kubernetes`: the daemon renders what it stores, the CLI writes YAML.

Resources are made through the API side on the in-memory fakes (an endpoint deployed,
an ECS service created, a training job and a standalone task started); the export
route renders them, every object validates against the Kubernetes schemas, and the
CLI command — talking to the same app through its real API client — writes the YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import kubernetes_validate
import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dockyard.cli import context
from dockyard.cli.client import ApiClient
from dockyard.cli.main import app as cli_app
from dockyard.errors import NotFound
from dockyard.kube import KUBERNETES_VERSION
from dockyard.server import task_definitions
from dockyard.server.app import create_app
from dockyard.spec.task_definition import parse_task_definition

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import World

pytestmark = pytest.mark.unit

IMAGE = "model:1"


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


@pytest.fixture
def cli(world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI's own API client, its HTTP transport swapped for the in-process app."""
    api = ApiClient(world.settings)
    api._http = client
    monkeypatch.setattr(context, "_client", api)
    return CliRunner()


def register(world: World, family: str = "web") -> str:
    definition = parse_task_definition(
        {
            "family": family,
            "taskRoleArn": "arn:aws:iam::123456789012:role/web",
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": IMAGE,
                    "portMappings": [{"containerPort": 8080}],
                    "secrets": [{"name": "TOKEN", "valueFrom": "web/token"}],
                },
                {"name": "proxy", "image": IMAGE, "essential": False},
            ],
        }
    )
    return task_definitions.register(world.store, definition).key


def exported(client: TestClient, ref: str) -> dict[str, Any]:
    response = client.get(f"/v1/kubernetes/manifests/{ref}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    for manifest in body["Manifests"]:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    return body


def kinds(body: dict[str, Any]) -> list[str]:
    return [m["kind"] for m in body["Manifests"]]


def test_an_endpoint_exports_with_its_pinned_image_as_the_tag(
    world: World, client: TestClient
) -> None:
    world.deploy(count=2)
    body = exported(client, "iris")
    assert body["Resource"] == "endpoint/iris"
    assert kinds(body) == ["Service", "Deployment"]
    deployment = body["Manifests"][1]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE


def test_an_ecs_service_exports_with_its_secret_role_and_scaling(
    world: World, client: TestClient
) -> None:
    register(world)
    request = {"serviceName": "web", "taskDefinition": "web:1", "desiredCount": 2}
    assert client.post("/v1/services", json=request).status_code == 201
    target = {
        "ServiceNamespace": "ecs",
        "ResourceId": "service/default/web",
        "ScalableDimension": "ecs:service:DesiredCount",
        "MinCapacity": 1,
        "MaxCapacity": 4,
    }
    response = client.post("/v1/autoscaling/targets", json=target)
    assert response.status_code < 300, response.text
    policy = {
        "PolicyName": "cpu",
        "ServiceNamespace": "ecs",
        "ResourceId": "service/default/web",
        "ScalableDimension": "ecs:service:DesiredCount",
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

    body = exported(client, "service/web")
    assert kinds(body) == [
        "ServiceAccount",
        "Secret",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
    ]
    assert all("stringData" not in m for m in body["Manifests"])


def test_a_training_job_and_a_task_export_by_name(
    world: World, client: TestClient, data_dir: Path
) -> None:
    world.train("fit", data_dir, hosts=2)
    body = exported(client, "fit")
    assert body["Resource"] == "training-job/fit"
    assert kinds(body).count("Service") == 2 and "Job" in kinds(body)

    register(world, "once")
    response = client.post("/v1/tasks", json={"taskDefinition": "once:1"})
    assert response.status_code == 201, response.text
    task = response.json()["tasks"][0]["taskArn"].rsplit("/", 1)[-1]
    assert kinds(exported(client, f"task/{task}")) == ["ServiceAccount", "Secret", "Job"]


def test_unknown_and_ambiguous_names_are_refused_with_the_fix(
    world: World, client: TestClient
) -> None:
    response = client.get("/v1/kubernetes/manifests/nothing")
    assert response.status_code == 404
    assert "dockyard endpoints" in response.json()["hint"]
    response = client.get("/v1/kubernetes/manifests/cluster/x")
    assert response.status_code == 400
    assert "endpoint, service, training-job, task" in response.json()["hint"]


def test_the_cli_writes_the_manifests_as_yaml(world: World, cli: CliRunner, tmp_path: Path) -> None:
    world.deploy(count=1)
    result = cli.invoke(cli_app, ["export", "kubernetes", "endpoint/iris"])
    assert result.exit_code == 0, result.output
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert [d["kind"] for d in documents] == ["Service", "Deployment"]

    result = cli.invoke(cli_app, ["export", "kubernetes", "iris", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = (tmp_path / "out" / "endpoint-iris.yaml").read_text()
    assert written == (result.stdout or written)
    assert [d["kind"] for d in yaml.safe_load_all(written) if d] == ["Service", "Deployment"]


def test_the_cli_names_a_missing_resource(world: World, cli: CliRunner) -> None:
    result = cli.invoke(cli_app, ["export", "kubernetes", "nothing"])
    # the daemon's 404 reaches the CLI as the error main() prints without a traceback
    assert isinstance(result.exception, NotFound)
    assert "'nothing'" in str(result.exception)
