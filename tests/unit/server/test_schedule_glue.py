"""Scheduled tasks through the HTTP API and the control plane, on fakes.

A schedule launches its RunTask when a firing passes, with startedBy schedule/NAME,
once per firing; firings missed while the daemon was down run once; a restarted
daemon does not run a handled firing again; run-now launches at once; bad requests
are 400s naming the field and store nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server import task_definitions
from dockyard.server.app import create_app
from dockyard.spec.task_definition import parse_task_definition

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import World, WorldFactory

pytestmark = pytest.mark.unit

IMAGE = "model:1"


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    world.platform.clock = world.clock  # the API and the loop on one (fake) clock
    definition = {"family": "prep", "containerDefinitions": [{"name": "main", "image": IMAGE}]}
    task_definitions.register(world.store, parse_task_definition(definition))
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "nightly", "scheduleExpression": "rate(5 minutes)", "taskDefinition": "prep:1"}
    response = client.post("/v1/schedules", json={**body, **fields})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()["schedule"]
    return made


def scheduled_tasks(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/v1/tasks", params={"startedBy": "schedule/nightly"})
    tasks: list[dict[str, Any]] = response.json()["tasks"]
    return tasks


def events(world: World) -> list[str]:
    return [event.message for event in world.store.events("schedule", "nightly")]


def test_a_due_schedule_runs_its_task_once(world: World, client: TestClient) -> None:
    made = create(client, count=2)
    assert made["nextRunAt"] == pytest.approx(made["createdAt"] + 300)
    world.step(2)
    assert scheduled_tasks(client) == []
    world.clock.advance(301)
    world.step(3)
    tasks = scheduled_tasks(client)
    assert len(tasks) == 2
    assert {t["startedBy"] for t in tasks} == {"schedule/nightly"}
    world.step(3)
    assert len(scheduled_tasks(client)) == 2  # the same firing never runs twice
    described = client.get("/v1/schedules/nightly").json()["schedule"]
    assert sorted(described["lastTaskIds"]) == sorted(t["taskId"] for t in tasks)
    assert described["nextRunAt"] == pytest.approx(made["createdAt"] + 600)
    assert any("started" in message for message in events(world))


def test_missed_firings_run_once_and_a_restart_repeats_nothing(
    world: World, client: TestClient, make_world: WorldFactory
) -> None:
    create(client)
    world.clock.advance(3 * 3600 + 10)  # 36 firings passed
    world.step(2)
    assert len(scheduled_tasks(client)) == 1
    assert any("35 earlier firing(s)" in message for message in events(world))
    restarted = make_world(store=world.store)
    restarted.step(3)
    assert len(scheduled_tasks(client)) == 1


def test_run_now_launches_at_once(world: World, client: TestClient) -> None:
    create(client, scheduleExpression="0 2 * * *")
    response = client.post("/v1/schedules/nightly/run")
    assert response.status_code == 200, response.text
    [task] = response.json()["tasks"]
    assert task["startedBy"] == "schedule/nightly"
    world.step(2)
    assert [t["taskId"] for t in scheduled_tasks(client)] == [task["taskId"]]
    assert client.get("/v1/schedules").json()["schedules"][0]["lastTaskIds"] == [task["taskId"]]


def test_delete_stops_the_schedule_not_its_tasks(world: World, client: TestClient) -> None:
    create(client)
    client.post("/v1/schedules/nightly/run")
    assert client.delete("/v1/schedules/nightly").status_code == 200
    assert client.get("/v1/schedules/nightly").status_code == 404
    world.clock.advance(600)
    world.step(2)
    assert len(scheduled_tasks(client)) == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"scheduleExpression": "every night"}, "scheduleExpression"),
        ({"scheduleExpression": "0 2 * *"}, "scheduleExpression"),
        ({"taskDefinition": "prep:9"}, "taskDefinition"),
        ({"count": 0}, "count"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_requests_name_the_field_and_store_nothing(
    client: TestClient, fields: dict[str, Any], field: str
) -> None:
    body = {"name": "nightly", "scheduleExpression": "rate(5 minutes)", "taskDefinition": "prep:1"}
    response = client.post("/v1/schedules", json={**body, **fields})
    assert response.status_code in (400, 404), response.text
    assert field in response.text
    assert client.get("/v1/schedules").json()["schedules"] == []


def test_a_name_is_taken_once(client: TestClient) -> None:
    create(client)
    body = {"name": "nightly", "scheduleExpression": "rate(1 hour)", "taskDefinition": "prep:1"}
    assert client.post("/v1/schedules", json=body).status_code == 409
