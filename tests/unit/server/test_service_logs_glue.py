"""Service and task logs through the API and the control plane, on fakes.

Every task's lines come prefixed by their task; a stopped task's output is still
shown after its containers were removed; following goes on with new lines and with
tasks that start after it began; one task's logs by id; unknown names are 404s.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server import task_definitions
from dockyard.server.app import create_app
from dockyard.server.service_logs import owner_view
from dockyard.spec.task_definition import parse_task_definition

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import World

pytestmark = pytest.mark.unit

IMAGE = "model:1"


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    definition = {"family": "web", "containerDefinitions": [{"name": "app", "image": IMAGE}]}
    task_definitions.register(world.store, parse_task_definition(definition))
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


def service(world: World, client: TestClient, count: int) -> list[str]:
    body = {"serviceName": "web", "taskDefinition": "web:1", "desiredCount": count}
    assert client.post("/v1/services", json=body).status_code == 201
    return running_tasks(world, count)


def running_tasks(world: World, count: int) -> list[str]:
    def ids() -> list[str]:
        return [
            r.task.task_id
            for r in world.store.tasks.list("service/web")
            if r.task.last_status.value == "RUNNING"
        ]

    world.settle(lambda: len(ids()) == count, f"{count} running tasks")
    return ids()


def say(world: World, task_id: str, text: str) -> None:
    world.engine.write_logs(world.container_of(task_id).id, text.encode())


def lines(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def test_every_task_of_a_service_prefixed_by_its_id(world: World, client: TestClient) -> None:
    first, second = service(world, client, 2)
    say(world, first, "one\ntwo\n")
    say(world, second, "three\n")
    items = lines(client, "/v1/services/web/logs")
    assert {(i["task"], i["line"]) for i in items} == {
        (first, "one"),
        (first, "two"),
        (second, "three"),
    }
    assert {i["prefix"] for i in items} == {f"{first[:12]}/app", f"{second[:12]}/app"}
    assert [
        i["line"] for i in lines(client, "/v1/services/web/logs", tail=1) if i["task"] == first
    ] == ["two"]


def test_a_stopped_tasks_output_is_kept_after_removal(world: World, client: TestClient) -> None:
    (task,) = service(world, client, 1)
    say(world, task, "about to crash\n")
    world.engine.exit(world.container_of(task).id, 3)
    world.settle(lambda: world.store.tasks.get(task) is None, "the stopped task to be reaped")
    items = lines(client, "/v1/services/web/logs")
    assert {"task": task, "line": "about to crash", "stopped": True}.items() <= next(
        i for i in items if i["task"] == task
    ).items()
    assert [i["line"] for i in lines(client, f"/v1/tasks/{task}/logs")] == ["about to crash"]


def next_line(stream: Iterator[dict[str, Any] | None]) -> dict[str, Any]:
    """The next line of a follow, past its keep-alive Nones."""
    while (item := next(stream)) is None:
        pass
    return item


@pytest.mark.timeout(60)
def test_follow_shows_new_lines_and_tasks_started_later(world: World, client: TestClient) -> None:
    (first,) = service(world, client, 1)
    say(world, first, "before\n")
    stream = owner_view(world.control_plane.tasks, "service/web").lines(tail=10, follow=True)
    try:
        assert next_line(stream)["line"] == "before"
        say(world, first, "after\n")
        assert next_line(stream)["line"] == "after"  # not "before" again
        client.post("/v1/services/web", json={"desiredCount": 2})
        (second,) = set(running_tasks(world, 2)) - {first}
        say(world, second, "hello from the new task\n")
        item = next_line(stream)
        assert (item["task"], item["line"]) == (second, "hello from the new task")
    finally:
        stream.close()


def test_one_task_and_unknown_names(world: World, client: TestClient) -> None:
    (task,) = service(world, client, 1)
    say(world, task, "mine\n")
    assert [i["line"] for i in lines(client, f"/v1/tasks/{task}/logs")] == ["mine"]
    assert client.get("/v1/tasks/0123456789abcdef/logs").status_code == 404
    assert client.get("/v1/services/nope/logs").status_code == 404
