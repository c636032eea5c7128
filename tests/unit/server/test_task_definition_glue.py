"""Task definitions through the HTTP API on in-memory fakes: register, describe, deregister.

An invalid registration is a 400 listing every problem and leaves the store as it was;
a valid one answers ECS's shape plus ``warnings``; deregistering makes a revision
INACTIVE, which describe and list show, a family name then means its latest ACTIVE
revision, and nothing new may start from an INACTIVE one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from dockyard.errors import Conflict
from dockyard.server import task_definitions
from dockyard.server.app import create_app
from dockyard.spec.task_definition import parse_task_definition

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import World

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).parents[1] / "spec" / "task_definitions"


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


def fargate_web() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / "fargate-web.json").read_text())
    return doc


def register(client: TestClient, doc: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/task-definitions", json=doc)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_invalid_registration_is_a_400_with_every_problem_and_stores_nothing(
    client: TestClient, world: World
) -> None:
    register(client, fargate_web())  # web:1 exists; a failed web:2 must not appear
    before = world.store.task_definitions.list()
    doc = fargate_web()
    doc["containerDefinitions"][0]["portMapings"] = []
    doc["containerDefinitions"][0]["dockerLabels"]["replicas"] = 2
    # a tag without a key breaks a rule, not a type: rules are judged once types are right
    doc["tags"].append({"value": "no key"})
    doc["memory"] = 2048  # a number where ECS wants a string

    response = client.post("/v1/task-definitions", json=doc)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "ValidationException"
    assert {error["field"] for error in body["errors"]} == {
        "memory",
        "containerDefinitions[0].portMapings",
        "containerDefinitions[0].dockerLabels.replicas",
    }
    assert all(error["message"] and error.get("hint") for error in body["errors"])
    assert "3 problems" in body["message"]
    assert world.store.task_definitions.list() == before
    assert world.store.services.list() == [] and world.store.tasks.list() == []


def test_broken_rules_are_a_400_with_every_rule_and_store_nothing(
    client: TestClient, world: World
) -> None:
    doc = fargate_web()
    doc["pidMode"] = "host"
    doc["containerDefinitions"][0]["privileged"] = True
    doc["containerDefinitions"][1]["dependsOn"] = [{"containerName": "app", "condition": "START"}]

    response = client.post("/v1/task-definitions", json=doc)

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [
        "containerDefinitions[0].dependsOn",
        "pidMode",
        "containerDefinitions[0].privileged",
    ]
    assert world.store.task_definitions.list() == []


def test_registration_answers_ecs_shape_with_tags_and_warnings(client: TestClient) -> None:
    body = register(client, fargate_web())
    described = body["taskDefinition"]
    assert (described["family"], described["revision"], described["status"]) == ("web", 1, "ACTIVE")
    assert described["registeredAt"] > 0
    assert "tags" not in described
    assert body["tags"] == [{"key": "project", "value": "iris"}, {"key": "cost-centre"}]
    assert (
        "containerDefinitions[0].dockerLabels: accepted and kept, but Dockyard does not "
        "act on it locally" in body["warnings"]
    )


def test_deregister_makes_a_revision_inactive_and_a_family_means_its_latest_active(
    client: TestClient, world: World
) -> None:
    register(client, fargate_web())
    register(client, fargate_web())

    response = client.post("/v1/task-definitions/web:2/deregister")

    assert response.status_code == 200
    described = response.json()["taskDefinition"]
    assert (described["status"], described["revision"]) == ("INACTIVE", 2)
    assert described["deregisteredAt"] >= described["registeredAt"]
    assert client.get("/v1/task-definitions/web:2").json()["taskDefinition"]["status"] == "INACTIVE"
    assert client.get("/v1/task-definitions/web").json()["taskDefinition"]["revision"] == 1
    listed = client.get("/v1/task-definitions", params={"status": "INACTIVE"}).json()
    assert listed["taskDefinitionArns"] == ["web:2"]
    statuses = [d["status"] for d in client.get("/v1/task-definitions").json()["taskDefinitions"]]
    assert statuses == ["ACTIVE", "INACTIVE"]
    # deregistering again changes nothing
    again = client.post("/v1/task-definitions/web:2/deregister").json()["taskDefinition"]
    assert again["deregisteredAt"] == described["deregisteredAt"]


def test_nothing_new_starts_from_an_inactive_revision(client: TestClient, world: World) -> None:
    register(client, fargate_web())
    client.post("/v1/task-definitions/web:1/deregister")

    with pytest.raises(Conflict, match="INACTIVE"):
        task_definitions.launchable(world.store, "web:1")
    assert task_definitions.get(world.store, "web:1").status == "INACTIVE"  # running work reads it
    # the same definition registered again by a deploy becomes a new, ACTIVE revision
    key = task_definitions.ensure_registered(world.store, parse_task_definition(fargate_web()))
    assert key == "web:2"
    assert task_definitions.launchable(world.store, "web").key == "web:2"


@pytest.mark.parametrize(
    ("method", "path", "status", "field"),
    [
        ("post", "/v1/task-definitions/web/deregister", 400, "taskDefinition"),
        ("post", "/v1/task-definitions/web:9/deregister", 404, None),
        ("get", "/v1/task-definitions/nope", 404, None),
        ("get", "/v1/task-definitions/bad name!", 400, "taskDefinition"),
    ],
)
def test_bad_references_are_named(
    client: TestClient, method: str, path: str, status: int, field: str | None
) -> None:
    register(client, fargate_web())
    response = client.request(method.upper(), path)
    assert response.status_code == status, response.text
    assert response.json().get("field") == field
    assert response.json().get("hint")


def test_list_refuses_an_unknown_status(client: TestClient) -> None:
    response = client.get("/v1/task-definitions", params={"status": "DELETED"})
    assert response.status_code == 400
    assert response.json()["field"] == "status"
