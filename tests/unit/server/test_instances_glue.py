"""EC2 container instances and placement through the HTTP API, on fakes.

The fake engine is registered as the local instance with the capacity it reports (2
cores, 4 GiB here); a second instance is stored directly (its engine would be another
URL; on fakes every task runs on the one fake engine, which is all placement needs).
RunTask places each task or reports ECS's failure without starting it; services
place theirs, say ECS's words when nothing fits, and move tasks off a draining
instance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from dockyard.adapters.engine.fleet import INSTANCE_LABEL
from dockyard.records.instance import ContainerInstanceRecord
from dockyard.server import task_definitions
from dockyard.server.app import create_app
from dockyard.server.instances import default_address, instance_id
from dockyard.spec.task_definition import parse_task_definition

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import WatchedEngine, World

pytestmark = pytest.mark.unit

IMAGE = "model:1"
OTHER = "b" * 32


@pytest.fixture
def engine(engine: WatchedEngine) -> WatchedEngine:
    engine.host_capacity = (2, 4096)
    return engine


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


def register(world: World, memory: int = 1024, family: str = "job") -> str:
    doc = {
        "family": family,
        "containerDefinitions": [
            {
                "name": "app",
                "image": IMAGE,
                "memory": memory,
                "portMappings": [{"containerPort": 8080}],
            }
        ],
    }
    return task_definitions.register(world.store, parse_task_definition(doc)).key


def second_instance(world: World, memory: int = 4096) -> None:
    world.store.container_instances.put(
        ContainerInstanceRecord(
            OTHER, "tcp://other:2375", 2048, memory, 0.0, attributes={"ecs.availability-zone": "b"}
        )
    )


def run(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/tasks", json={"taskDefinition": "job:1", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def where(world: World) -> list[str]:
    return [t.placement.labels[INSTANCE_LABEL] for t in world.store.tasks.list()]


def local(world: World) -> str:
    return instance_id("local")


def test_the_local_engine_is_an_instance_with_the_capacity_it_reports(
    world: World, client: TestClient
) -> None:
    (instance,) = client.get("/v1/container-instances").json()["containerInstances"]
    assert instance["status"] == "ACTIVE"
    assert {r["name"]: r["integerValue"] for r in instance["registeredResources"]} == {
        "CPU": 2048,
        "MEMORY": 4096,
    }
    register(world, memory=1024)
    run(client, count=3)
    (instance,) = client.get("/v1/container-instances").json()["containerInstances"]
    assert {r["name"]: r["integerValue"] for r in instance["remainingResources"]} == {
        "CPU": 2048,
        "MEMORY": 1024,
    }
    assert instance["pendingTasksCount"] + instance["runningTasksCount"] == 3


def test_a_task_too_big_for_every_instance_fails_with_resource_memory_and_starts_nothing(
    world: World, client: TestClient
) -> None:
    register(world, memory=8192)
    answer = run(client, count=2)
    assert answer["tasks"] == []
    assert [f["reason"] for f in answer["failures"]] == ["RESOURCE:MEMORY"] * 2
    assert answer["failures"][0]["arn"].endswith(f"container-instance/default/{local(world)}")
    world.step(3)
    assert world.store.tasks.list() == []
    assert world.engine.containers() == []


def test_the_last_tasks_that_do_not_fit_are_reported_and_the_others_run(
    world: World, client: TestClient
) -> None:
    register(world, memory=1536)
    answer = run(client, count=3)
    assert len(answer["tasks"]) == 2
    assert [f["reason"] for f in answer["failures"]] == ["RESOURCE:MEMORY"]


def test_binpack_fills_one_instance_and_spread_alternates(world: World, client: TestClient) -> None:
    second_instance(world, memory=8192)
    register(world, memory=1024)
    run(client, count=3, placementStrategy=[{"type": "binpack", "field": "memory"}])
    assert where(world) == [local(world)] * 3  # the least memory left, until full
    for task in world.store.tasks.list():
        world.store.tasks.delete(task.key)
    run(client, count=4, placementStrategy=[{"type": "spread", "field": "instanceId"}])
    assert sorted(where(world)) == sorted([local(world), OTHER] * 2)


def test_constraints_distinct_instance_and_member_of(world: World, client: TestClient) -> None:
    second_instance(world)
    register(world, memory=512)
    answer = run(client, count=3, placementConstraints=[{"type": "distinctInstance"}])
    assert len(answer["tasks"]) == 2
    assert answer["failures"][0]["reason"] == "DistinctInstance"
    for task in world.store.tasks.list():
        world.store.tasks.delete(task.key)
    member = [{"type": "memberOf", "expression": "attribute:ecs.availability-zone == b"}]
    run(client, count=2, placementConstraints=member)
    assert where(world) == [OTHER, OTHER]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (
            {"placementStrategy": [{"type": "binpack", "field": "disk"}]},
            "placementStrategy[0].field",
        ),
        ({"placementStrategy": [{"type": "pack"}]}, "placementStrategy[0].type"),
        (
            {"placementConstraints": [{"type": "memberOf", "expression": "zone is b"}]},
            "placementConstraints[0].expression",
        ),
        (
            {"launchType": "FARGATE", "placementStrategy": [{"type": "random"}]},
            "placementStrategy",
        ),
    ],
)
def test_bad_placement_is_a_400_naming_the_field(
    world: World, client: TestClient, fields: dict[str, Any], field: str
) -> None:
    register(world)
    response = client.post("/v1/tasks", json={"taskDefinition": "job:1", **fields})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert world.store.tasks.list() == []


def service(client: TestClient, count: int, **fields: Any) -> None:
    body = {"serviceName": "web", "taskDefinition": "web:1", "desiredCount": count, **fields}
    response = client.post("/v1/services", json=body)
    assert response.status_code == 201, response.text


def test_a_service_that_cannot_place_a_task_says_so_in_ecs_words(
    world: World, client: TestClient
) -> None:
    register(world, memory=3072, family="web")
    service(client, 2)
    world.settle(lambda: len(world.store.tasks.list("service/web")) == 1, "one task placed")
    world.step(3)
    messages = [e.message for e in world.store.events("service", "web")]
    unable = [m for m in messages if "was unable to place a task" in m]
    assert unable == [
        "service web was unable to place a task because no container instance met all of its "
        f"requirements. The closest matching container-instance {local(world)} has "
        "insufficient memory available."
    ]
    assert len(world.store.tasks.list("service/web")) == 1


def test_draining_an_instance_moves_the_service_tasks_to_another(
    world: World, client: TestClient
) -> None:
    register(world, memory=512, family="web")
    service(client, 2)
    world.settle(
        lambda: (
            [t.task.last_status for t in world.store.tasks.list("service/web")]
            == ["RUNNING", "RUNNING"]
        ),
        "two tasks running",
    )
    assert where(world) == [local(world)] * 2
    second_instance(world)
    response = client.put(
        f"/v1/container-instances/{local(world)}/status", json={"status": "DRAINING"}
    )
    assert response.status_code == 200, response.text

    def moved() -> bool:
        live = [t for t in world.store.tasks.list("service/web") if t.task.last_status != "STOPPED"]
        return len(live) == 2 and all(
            t.placement.labels[INSTANCE_LABEL] == OTHER and t.task.last_status == "RUNNING"
            for t in live
        )

    world.settle(moved, "tasks moved to the other instance")
    refused = client.delete(f"/v1/container-instances/{OTHER}")
    assert refused.status_code == 409
    assert "--force" in refused.json()["hint"]


def test_register_refuses_what_is_not_an_engine_url(client: TestClient) -> None:
    response = client.post("/v1/container-instances", json={"engineUrl": "other:2375"})
    assert response.status_code == 400
    assert response.json()["field"] == "engineUrl"
    response = client.post("/v1/container-instances", json={"engineUrl": "local", "cpuu": 1})
    assert response.status_code == 400
    assert response.json()["field"] == "cpuu"


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("tcp://10.0.0.5:2375", "10.0.0.5"),
        ("tcp://engine.internal:2376", "engine.internal"),
        ("ssh://admin@10.0.0.6", "10.0.0.6"),
        ("https://[fd00::5]:2376", "fd00::5"),
        ("unix:///run/docker.sock", None),
    ],
)
def test_an_engine_on_another_host_publishes_on_the_host_of_its_url(
    url: str, address: str | None
) -> None:
    assert default_address(url) == address


def test_register_refuses_an_address_that_is_not_a_host_and_stores_nothing(
    world: World, client: TestClient
) -> None:
    before = world.store.container_instances.list()
    for bad in ("10.0.0.5:80", "a b", 5):
        response = client.post(
            "/v1/container-instances", json={"engineUrl": "tcp://x:2375", "address": bad}
        )
        assert response.status_code == 400, response.text
        assert response.json()["field"] == "address"
    assert world.store.container_instances.list() == before


def test_update_service_placement_places_the_tasks_it_starts_from_then_on(
    world: World, client: TestClient
) -> None:
    register(world, memory=256, family="web")
    second_instance(world)
    service(client, 2, placementStrategy=[{"type": "binpack", "field": "memory"}])

    def live() -> list[str]:
        return [
            t.placement.labels[INSTANCE_LABEL]
            for t in world.store.tasks.list("service/web")
            if t.task.last_status == "RUNNING"
        ]

    world.settle(lambda: len(live()) == 2, "two tasks running")
    (first,) = set(live())  # binpack: both on one instance
    (second,) = {local(world), OTHER} - {first}

    refused = client.post("/v1/services/web", json={"placementStrategy": [{"type": "pack"}]})
    assert refused.status_code == 400, refused.text
    assert refused.json()["field"] == "placementStrategy[0].type"
    spread = [{"type": "spread", "field": "instanceId"}]
    response = client.post("/v1/services/web", json={"placementStrategy": spread})
    assert response.status_code == 200, response.text
    service_doc = response.json()["service"]
    assert service_doc["placementStrategy"] == spread
    assert len(service_doc["deployments"]) == 1  # as on ECS: no new deployment
    world.step(3)
    assert sorted(live()) == [first, first]  # running tasks stay where they are

    response = client.post("/v1/services/web", json={"desiredCount": 4})
    assert response.status_code == 200, response.text
    world.settle(lambda: len(live()) == 4, "four tasks running")
    assert sorted(live()) == sorted([first, first, second, second])

    member = [{"type": "memberOf", "expression": "attribute:ecs.availability-zone == b"}]
    response = client.post(
        "/v1/services/web", json={"placementStrategy": [], "placementConstraints": member}
    )
    assert response.status_code == 200, response.text
    assert response.json()["service"]["placementStrategy"] == []
    assert response.json()["service"]["placementConstraints"] == member
