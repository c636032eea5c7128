"""The HTTP API over the control plane: status codes, error bodies, and what a request stores.

Covers :func:`dockyard.server.app.create_app` driven through FastAPI's ``TestClient``
on in-memory fakes: bad input is a 400 naming the field with a hint and stores
nothing, unknown resources are 404s with a hint, ``training-job:NAME`` model data
deploys a completed job's model (and is a 409 before it completed), tasks list as
ECS shows them, and reads answer while a reconcile is under way.
"""

from __future__ import annotations

import tarfile
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.app import create_app
from dockyard.testing import FakeEngine, FakeHealthProbe

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import World, WorldFactory

pytestmark = pytest.mark.unit

ENDPOINT = "iris"
IMAGE = "model:1"
JOB = "iris-train"
MODEL = {"model.joblib": b"weights"}
GATE_S = 5.0


def client_for(world: World) -> TestClient:
    return TestClient(create_app(world.platform, world.control_plane))


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with client_for(world) as client:
        yield client


def deploy_body(**fields: Any) -> dict[str, Any]:
    return {"EndpointName": ENDPOINT, "Image": IMAGE, "InstanceCount": 2, **fields}


def assert_nothing_stored(world: World) -> None:
    assert world.store.endpoints.list() == []
    assert world.store.services.list() == []
    assert world.store.tasks.list() == []
    assert world.store.task_definitions.list() == []
    assert world.lb.routes() == []


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"EndpointName": ENDPOINT, "InstanceCount": 2}, "Image"),
        (deploy_body(InstanceCount="many"), "InstanceCount"),
        (deploy_body(EndpointName="not a name!"), "EndpointName"),
        (deploy_body(Image="nope:1"), "Image"),
        # the deploy request's own field names, not those of the SageMaker resources
        # it is turned into (PrimaryContainer.Image, ProductionVariants[0]....)
        (deploy_body(Image="Bad Image!"), "Image"),
        (deploy_body(InstanceCount=0), "InstanceCount"),
        (
            deploy_body(ContainerStartupHealthCheckTimeoutInSeconds=5),
            "ContainerStartupHealthCheckTimeoutInSeconds",
        ),
        (deploy_body(VariantName="not a name!"), "VariantName"),
    ],
    ids=[
        "missing-image",
        "count-not-a-number",
        "bad-endpoint-name",
        "unknown-image",
        "malformed-image",
        "zero-instances",
        "startup-timeout-too-short",
        "bad-variant-name",
    ],
)
def test_bad_deploy_input_is_a_400_naming_the_field_and_stores_nothing(
    client: TestClient, world: World, body: dict[str, Any], field: str
) -> None:
    answer = client.post("/v1/endpoints", json=body)

    assert answer.status_code == 400
    error = answer.json()
    assert error["field"] == field
    assert error["hint"]
    world.step()
    assert_nothing_stored(world)


def test_a_body_that_is_not_json_is_a_400(client: TestClient, world: World) -> None:
    answer = client.post(
        "/v1/endpoints",
        content=b"{EndpointName: iris",
        headers={"content-type": "application/json"},
    )

    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["message"]
    assert answer.json()["hint"]
    assert_nothing_stored(world)


def test_a_relative_model_data_path_is_a_400_naming_model_data_url(
    client: TestClient, world: World
) -> None:
    answer = client.post("/v1/endpoints", json=deploy_body(ModelDataUrl="models/model.tar.gz"))

    assert answer.status_code == 400
    assert answer.json()["field"] == "ModelDataUrl"
    assert "relative" in answer.json()["message"]
    assert answer.json()["hint"]
    assert_nothing_stored(world)


def test_an_unknown_endpoint_is_a_404_with_a_hint(client: TestClient) -> None:
    answer = client.get("/v1/endpoints/nosuch")

    assert answer.status_code == 404
    assert answer.json()["resource"] == "endpoint/nosuch"
    assert answer.json()["hint"]


# -- a training job's model -------------------------------------------------------------------


def test_deploying_a_completed_training_jobs_model_serves_that_model(
    client: TestClient, world: World, data_dir: Path
) -> None:
    job = world.complete(JOB, data_dir, MODEL)

    answer = client.post("/v1/endpoints", json=deploy_body(ModelDataUrl=f"training-job:{JOB}"))

    assert answer.status_code == 201, answer.json()
    assert answer.json()["ModelDataUrl"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    world.in_service()
    (replica, *_) = world.replicas()
    (mount,) = [
        m
        for c in replica.definition.container_definitions
        for m in c.mount_points
        if m.container_path == "/opt/ml/model"
    ]
    (volume,) = [v for v in replica.definition.volumes if v.name == mount.source_volume]
    assert volume.host is not None
    assert volume.host.source_path is not None
    extracted = world.settings.state_dir / "models"
    assert volume.host.source_path.startswith(str(extracted))
    served = {p.name: p.read_bytes() for p in extracted.glob("*/*") if p.is_file()}
    assert served == MODEL


def test_the_model_tarball_of_a_completed_job_is_a_gzip_tar(world: World, data_dir: Path) -> None:
    job = world.complete(JOB, data_dir, MODEL)

    uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    path = world.platform.inputs.model_archive(uri, "ModelDataUrl").path
    with tarfile.open(path, mode="r:gz") as archive:
        assert "model.joblib" in {m.name.removeprefix("./") for m in archive}


def test_deploying_the_model_of_a_job_not_completed_is_a_409(
    client: TestClient, world: World, data_dir: Path
) -> None:
    world.train(JOB, data_dir)
    world.launched(JOB)

    answer = client.post("/v1/endpoints", json=deploy_body(ModelDataUrl=f"training-job:{JOB}"))

    assert answer.status_code == 409
    assert answer.json()["resource"] == f"training-job/{JOB}"
    assert answer.json()["hint"]
    assert world.store.endpoints.list() == []


def test_deploying_the_model_of_an_unknown_job_is_a_404(client: TestClient, world: World) -> None:
    answer = client.post("/v1/endpoints", json=deploy_body(ModelDataUrl="training-job:nosuch"))

    assert answer.status_code == 404
    assert answer.json()["hint"]
    assert_nothing_stored(world)


# -- reading ----------------------------------------------------------------------------------


def test_tasks_lists_the_endpoints_replicas_with_their_last_status(
    client: TestClient, world: World
) -> None:
    assert client.post("/v1/endpoints", json=deploy_body()).status_code == 201
    world.in_service()

    tasks = client.get("/v1/tasks").json()["tasks"]

    assert {t["taskId"] for t in tasks} == world.replica_ids()
    assert {t["lastStatus"] for t in tasks} == {"RUNNING"}
    assert {t["startedBy"] for t in tasks} == {f"service/{ENDPOINT}-AllTraffic"}
    owned = client.get("/v1/tasks", params={"startedBy": f"service/{ENDPOINT}-AllTraffic"})
    assert len(owned.json()["tasks"]) == 2


class GatedProbe(FakeHealthProbe):
    """Health checks that hold the reconcile calling them until the test lets go."""

    def __init__(self, engine: FakeEngine) -> None:
        super().__init__(engine)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.timed_out = False

    def check(self, urls: Mapping[str, str]) -> dict[str, bool]:
        if urls:
            self.entered.set()
            self.timed_out = not self.release.wait(GATE_S)
        return super().check(urls)


def test_listing_endpoints_answers_while_a_deploys_reconcile_runs(
    make_world: WorldFactory, engine: FakeEngine
) -> None:
    probe = GatedProbe(engine)
    world = make_world(probe=probe)
    with client_for(world) as client:
        assert client.post("/v1/endpoints", json=deploy_body()).status_code == 201
        world.step()  # replicas started; the next pass checks them
        reconciling = threading.Thread(target=world.step)
        reconciling.start()
        assert probe.entered.wait(GATE_S)

        listed = client.get("/v1/endpoints")
        described = client.get(f"/v1/endpoints/{ENDPOINT}")

        probe.release.set()
        reconciling.join(GATE_S)
    assert listed.status_code == 200
    assert [e["EndpointName"] for e in listed.json()["Endpoints"]] == [ENDPOINT]
    assert described.status_code == 200
    assert not probe.timed_out, "the reads waited for the reconcile to finish"
