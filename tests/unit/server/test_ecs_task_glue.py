"""Standalone tasks (RunTask, StopTask) through the HTTP API and the control plane, on fakes.

RunTask stores PROVISIONING tasks and the loop starts them; an essential container's
exit stops the task with ECS's stopCode, reason and exit code; StopTask is
UserInitiated (and a service's task stopped this way is replaced); a STOPPED task
stays visible for the retention period, then is reaped; overrides change what one
task runs; bad requests are 4xx naming the field and start nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from dockyard.control.standalone import STOPPED_TASK_RETENTION_S
from dockyard.server import task_definitions
from dockyard.server.app import create_app
from dockyard.server.ecs_shapes import STANDALONE_OWNER
from dockyard.spec.task_definition import parse_task_definition

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import World

pytestmark = pytest.mark.unit

IMAGE = "model:1"


def job_definition() -> dict[str, Any]:
    return {
        "family": "job",
        "containerDefinitions": [
            {
                "name": "main",
                "image": IMAGE,
                "command": ["python", "-c", "print(1)"],
                "environment": [{"name": "MODE", "value": "full"}],
            },
            {"name": "sidecar", "image": IMAGE, "essential": False},
        ],
    }


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    task_definitions.register(world.store, parse_task_definition(job_definition()))
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


def run(client: TestClient, **fields: Any) -> list[dict[str, Any]]:
    response = client.post("/v1/tasks", json={"taskDefinition": "job:1", **fields})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["failures"] == []
    tasks: list[dict[str, Any]] = body["tasks"]
    return tasks


def task(client: TestClient, task_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/tasks/{task_id}")
    assert response.status_code == 200, response.text
    described: dict[str, Any] = response.json()["task"]
    return described


def started(world: World, task_id: str, containers: int = 2) -> None:
    world.settle(lambda: len(world.containers_of(task_id)) == containers, "containers to start")


def main_container(world: World, task_id: str) -> str:
    return next(
        c.id for c in world.containers_of(task_id) if c.labels["dockyard.container"] == "main"
    )


def test_run_task_count_two_starts_two_tasks_that_run(world: World, client: TestClient) -> None:
    tasks = run(client, count=2, startedBy="nightly")

    assert [t["lastStatus"] for t in tasks] == ["PROVISIONING", "PROVISIONING"]
    assert all(t["taskArn"].endswith(f"/default/{t['taskId']}") for t in tasks)
    assert all(t["group"] == "family:job" for t in tasks)
    for item in tasks:
        started(world, item["taskId"])
    world.step()
    assert [task(client, t["taskId"])["lastStatus"] for t in tasks] == ["RUNNING", "RUNNING"]
    listed = client.get("/v1/tasks", params={"startedBy": "nightly"}).json()["tasks"]
    assert {t["taskId"] for t in listed} == {t["taskId"] for t in tasks}


def test_an_essential_exit_stops_the_task_with_ecs_reason_and_exit_code(
    world: World, client: TestClient
) -> None:
    (item,) = run(client)
    task_id = item["taskId"]
    started(world, task_id)

    world.engine.exit(main_container(world, task_id), 0)
    world.settle(lambda: task(client, task_id)["lastStatus"] == "STOPPED", "the task to stop")

    described = task(client, task_id)
    assert described["stopCode"] == "EssentialContainerExited"
    assert described["stoppedReason"] == "Essential container in task exited"
    main = next(c for c in described["containers"] if c["name"] == "main")
    assert main["exitCode"] == 0
    assert not any(c.running for c in world.containers_of(task_id))  # the sidecar too
    events = client.get("/v1/events", params={"kind": "task", "name": task_id}).json()["Events"]
    assert "EssentialContainerExited" in events[-1]["Message"]


def test_a_stopped_task_stays_visible_for_the_retention_then_is_reaped(
    world: World, client: TestClient
) -> None:
    (item,) = run(client)
    task_id = item["taskId"]
    started(world, task_id)
    world.engine.exit(main_container(world, task_id), 1)
    world.settle(lambda: task(client, task_id)["lastStatus"] == "STOPPED", "the task to stop")

    world.clock.advance(STOPPED_TASK_RETENTION_S - 1)
    world.step()
    assert task(client, task_id)["lastStatus"] == "STOPPED"

    world.clock.advance(1)
    world.step()
    assert client.get(f"/v1/tasks/{task_id}").status_code == 404
    assert world.containers_of(task_id) == []


def test_stop_task_is_user_initiated(world: World, client: TestClient) -> None:
    (item,) = run(client)
    task_id = item["taskId"]
    started(world, task_id)

    response = client.post(f"/v1/tasks/{task_id}/stop", json={"reason": "enough"})
    assert response.status_code == 200, response.text
    assert response.json()["task"]["desiredStatus"] == "STOPPED"

    world.settle(lambda: task(client, task_id)["lastStatus"] == "STOPPED", "the task to stop")
    described = task(client, task_id)
    assert described["stopCode"] == "UserInitiated"
    assert described["stoppedReason"] == "enough"


def test_a_stop_requested_while_a_reconcile_holds_an_older_record_is_kept(
    world: World, client: TestClient
) -> None:
    (item,) = run(client)
    task_id = item["taskId"]
    started(world, task_id)
    stale = world.store.tasks.require(task_id)

    client.post(f"/v1/tasks/{task_id}/stop")
    world.control_plane.tasks.save(stale)  # a reconcile writing what it read before

    assert world.store.tasks.require(task_id).task.stop_code == "UserInitiated"


def test_overrides_change_what_one_task_runs(world: World, client: TestClient) -> None:
    overrides = {
        "containerOverrides": [
            {
                "name": "main",
                "command": ["python", "-c", "print(2)"],
                "environment": [{"name": "EXTRA", "value": "1"}],
                "memory": 256,
            }
        ]
    }
    (item,) = run(client, overrides=overrides)

    record = world.store.tasks.require(item["taskId"])
    main = record.definition.container("main")
    assert main.command == ("python", "-c", "print(2)")
    assert main.environment_map == {"MODE": "full", "EXTRA": "1"}
    assert main.memory == 256
    assert record.task.revision == "job:1"
    registered = task_definitions.get(world.store, "job:1").definition.container("main")
    assert registered.command == ("python", "-c", "print(1)")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"taskDefinition": "job:7"}, 400, "taskDefinition"),
        ({"taskDefinition": "job:1", "count": 11}, 400, "count"),
        ({"taskDefinition": "job:1", "count": "2"}, 400, "count"),
        ({"taskDefinition": "job:1", "cuont": 2}, 400, "cuont"),
        (
            {"taskDefinition": "job:1", "overrides": {"containerOverrides": [{"name": "mian"}]}},
            400,
            "overrides.containerOverrides[0].name",
        ),
        (
            {
                "taskDefinition": "job:1",
                "overrides": {"containerOverrides": [{"name": "main", "memory": "lots"}]},
            },
            400,
            "overrides.containerOverrides[0].memory",
        ),
        ({"taskDefinition": "job:1", "launchType": "FARGATE"}, 400, "launchType"),
        ({"taskDefinition": "job:2"}, 409, "taskDefinition"),
    ],
    ids=[
        "unknown-revision",
        "count-too-high",
        "count-type",
        "unknown-field",
        "unknown-container",
        "memory-type",
        "launch-type",
        "inactive",
    ],
)
def test_a_bad_run_task_is_a_4xx_naming_the_field_and_starts_nothing(
    world: World, client: TestClient, body: dict[str, Any], status: int, field: str
) -> None:
    task_definitions.register(world.store, parse_task_definition(job_definition()))
    task_definitions.deregister(world.store, "job:2")

    response = client.post("/v1/tasks", json=body)

    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    world.step(2)
    assert world.store.tasks.list(STANDALONE_OWNER) == []
    assert world.engine.containers() == []


def test_stopping_an_unknown_task_is_a_404(client: TestClient) -> None:
    response = client.post("/v1/tasks/nope/stop")
    assert response.status_code == 404
    assert response.json()["hint"]
