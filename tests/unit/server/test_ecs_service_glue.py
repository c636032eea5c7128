"""ECS services a user creates, through the HTTP API and the control plane, on fakes.

Create → tasks start → /ping passes → registered → steady; scale; a new revision (or a
forced deployment) rolls within minimumHealthyPercent / maximumPercent with the
deployments DescribeServices shows; delete is refused while desiredCount > 0 unless
forced, then the service drains and goes with its route. Every bad request is a 4xx
naming the field, and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from dockyard.control.launch_throttle import MAX_WAIT_S
from dockyard.control.task import TaskStatus
from dockyard.server import task_definitions
from dockyard.server.app import create_app
from dockyard.spec.task_definition import parse_task_definition

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import World

pytestmark = pytest.mark.unit

IMAGE = "model:1"
SERVICE = "web"


def task_definition(family: str = "web", **env: str) -> dict[str, Any]:
    return {
        "family": family,
        "containerDefinitions": [
            {
                "name": "app",
                "image": IMAGE,
                "portMappings": [{"containerPort": 8080}],
                "environment": [{"name": k, "value": v} for k, v in env.items()],
            }
        ],
    }


def register(world: World, doc: dict[str, Any] | None = None) -> str:
    definition = parse_task_definition(doc or task_definition())
    return task_definitions.register(world.store, definition).key


def create_body(**fields: Any) -> dict[str, Any]:
    return {
        "serviceName": SERVICE,
        "taskDefinition": "web:1",
        "desiredCount": 2,
        "loadBalancers": [
            {"targetGroupArn": SERVICE, "containerName": "app", "containerPort": 8080}
        ],
        **fields,
    }


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


def created(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/services", json=create_body(**fields))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def described(client: TestClient, name: str = SERVICE) -> dict[str, Any]:
    response = client.get(f"/v1/services/{name}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def steady(world: World, client: TestClient, count: int = 2) -> dict[str, Any]:
    """Step until the service is steady with ``count`` registered targets."""

    def done() -> bool:
        healthy = [h for h in world.targets(SERVICE).values() if h == "healthy"]
        primary = described(client)["service"]["deployments"][0]
        return len(healthy) == count and primary["rolloutState"] == "COMPLETED"

    world.settle(done, f"{SERVICE} steady with {count} targets")
    return described(client)


def service_tasks(world: World) -> list[Any]:
    return world.store.tasks.list(f"service/{SERVICE}")


# -- create -----------------------------------------------------------------------------------


def test_create_starts_tasks_registers_them_and_reaches_a_steady_state(
    world: World, client: TestClient
) -> None:
    register(world)
    body = created(client)

    service = body["service"]
    assert service["serviceName"] == SERVICE
    assert service["serviceArn"].endswith(f":service/default/{SERVICE}")
    assert service["status"] == "ACTIVE"
    assert service["taskDefinition"].endswith("task-definition/web:1")
    assert service["deployments"][0]["status"] == "PRIMARY"
    assert service["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert body["url"] == world.lb.url_for(SERVICE)
    assert world.lb.routes() == [SERVICE]

    after = steady(world, client)

    assert set(world.targets(SERVICE)) == {t.task.task_id for t in service_tasks(world)}
    assert after["service"]["runningCount"] == 2
    assert [t["health"] for t in after["tasks"]] == ["healthy", "healthy"]
    messages = [e["message"] for e in after["service"]["events"]]
    assert any("has reached a steady state" in m for m in messages)
    assert any("registered 2 targets" in m for m in messages)


def test_update_desired_count_scales_in_the_same_deployment(
    world: World, client: TestClient
) -> None:
    register(world)
    created(client)
    first = steady(world, client)["service"]["deployments"][0]["id"]

    response = client.post(f"/v1/services/{SERVICE}", json={"desiredCount": 3})
    assert response.status_code == 200, response.text

    after = steady(world, client, count=3)
    assert [d["id"] for d in after["service"]["deployments"]] == [first]
    assert after["service"]["desiredCount"] == 3


def test_a_new_revision_rolls_within_min_and_max_percent(world: World, client: TestClient) -> None:
    register(world)
    register(world, task_definition(COLOR="blue"))  # web:2
    created(client, deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 150})
    steady(world, client)
    old = {t.task.task_id for t in service_tasks(world)}

    response = client.post(f"/v1/services/{SERVICE}", json={"taskDefinition": "web:2"})
    assert response.status_code == 200, response.text

    most_alive, fewest_ready = 0, 2
    deployments_seen: set[tuple[str, ...]] = set()

    def rolled() -> bool:
        nonlocal most_alive, fewest_ready
        tasks = service_tasks(world)
        alive = [t for t in tasks if not t.task.is_done]
        most_alive = max(most_alive, len(alive))
        fewest_ready = min(fewest_ready, len(world.targets(SERVICE)))
        view = described(client)["service"]
        deployments_seen.add(tuple(d["status"] for d in view["deployments"]))
        return not old & {t.task.task_id for t in tasks} and (
            view["deployments"][0]["rolloutState"] == "COMPLETED"
        )

    world.settle(rolled, "the roll to web:2")

    assert most_alive <= 3  # maximumPercent 150 of 2
    assert fewest_ready >= 1  # minimumHealthyPercent 50 of 2
    assert ("PRIMARY", "ACTIVE") in deployments_seen
    assert {t.task.revision for t in service_tasks(world)} == {"web:2"}
    assert not any(seen.held_by_balancer for seen in world.engine.stops)


def test_force_new_deployment_replaces_tasks_of_the_same_revision(
    world: World, client: TestClient
) -> None:
    register(world)
    created(client)
    steady(world, client)
    old = {t.task.task_id for t in service_tasks(world)}

    response = client.post(f"/v1/services/{SERVICE}", json={"forceNewDeployment": True})
    assert response.status_code == 200, response.text
    assert len(response.json()["service"]["deployments"]) == 2

    world.settle(
        lambda: (
            not old & {t.task.task_id for t in service_tasks(world)}
            and len(world.targets(SERVICE)) == 2
        ),
        "the forced deployment",
    )
    assert {t.task.revision for t in service_tasks(world)} == {"web:1"}


# -- delete -----------------------------------------------------------------------------------


def test_delete_is_refused_while_scaled_up_then_drains_and_goes_with_its_route(
    world: World, client: TestClient
) -> None:
    register(world)
    created(client)
    steady(world, client)

    refused = client.delete(f"/v1/services/{SERVICE}")
    assert refused.status_code == 409
    assert "--force" in refused.json()["hint"]
    assert described(client)["service"]["status"] == "ACTIVE"

    draining = client.delete(f"/v1/services/{SERVICE}", params={"force": "true"})
    assert draining.status_code == 200, draining.text
    assert draining.json()["service"]["status"] == "DRAINING"

    world.settle(lambda: world.store.services.get(SERVICE) is None, "the service to go")
    assert client.get(f"/v1/services/{SERVICE}").status_code == 404
    assert world.lb.routes() == []
    assert service_tasks(world) == []
    assert not any(c.running for c in world.engine.containers())


def test_a_service_scaled_to_zero_deletes_without_force(world: World, client: TestClient) -> None:
    register(world)
    created(client, desiredCount=0)

    assert client.delete(f"/v1/services/{SERVICE}").status_code == 200
    world.settle(lambda: world.store.services.get(SERVICE) is None, "the service to go")


def test_endpoint_variants_are_not_listed_as_services(world: World, client: TestClient) -> None:
    register(world)
    world.deploy()
    created(client)

    names = [s["serviceName"] for s in client.get("/v1/services").json()["services"]]
    assert names == [SERVICE]
    assert client.get("/v1/services/iris-AllTraffic").status_code == 404


def test_the_listing_describes_the_records_it_read_without_looking_them_up_again(
    world: World, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service whose delete finishes between the listing's read and a second lookup
    by name would have made the whole listing a 404."""
    register(world)
    created(client)
    monkeypatch.setattr(world.store.services, "get", lambda name: None)

    listed = client.get("/v1/services")

    assert listed.status_code == 200, listed.text
    assert [s["serviceName"] for s in listed.json()["services"]] == [SERVICE]


# -- tasks of a service -----------------------------------------------------------------------


def test_an_essential_container_exit_is_recorded_and_the_task_replaced(
    world: World, client: TestClient
) -> None:
    register(world)
    created(client, desiredCount=1)
    steady(world, client, count=1)
    (task,) = service_tasks(world)

    world.engine.exit(world.container_of(task.task.task_id).id, 3)

    def replaced() -> bool:
        ids = {t.task.task_id for t in service_tasks(world)}
        return task.task.task_id not in ids and len(world.targets(SERVICE)) == 1

    stopped: list[Any] = []

    def watch() -> bool:
        record = world.store.tasks.get(task.task.task_id)
        if record is not None and record.task.last_status is TaskStatus.STOPPED:
            stopped.append(record)
        return replaced()

    world.settle(watch, "a replacement to serve")
    assert stopped
    assert stopped[0].task.stop_code == "EssentialContainerExited"
    assert stopped[0].task.stopped_reason == "Essential container in task exited"
    assert stopped[0].task.containers[0].exit_code == 3


# -- bad input --------------------------------------------------------------------------------


def lb(container: str = "app", port: int = 8080, group: str = SERVICE) -> list[dict[str, Any]]:
    return [{"targetGroupArn": group, "containerName": container, "containerPort": port}]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (create_body(taskDefinition="web:9"), 400, "taskDefinition"),
        (create_body(taskDefinition="nope"), 400, "taskDefinition"),
        (create_body(taskDefinition="web:2"), 409, "taskDefinition"),  # INACTIVE
        (create_body(desiredCount="two"), 400, "desiredCount"),
        (create_body(desiredCont=2), 400, "desiredCont"),
        (create_body(loadBalancers=lb(container="ap")), 400, "loadBalancers[0].containerName"),
        (create_body(loadBalancers=lb(port=9090)), 400, "loadBalancers[0].containerPort"),
        (create_body(serviceName="not a name"), 400, "serviceName"),
        (create_body(launchType="FARGATE"), 400, "launchType"),
        (
            create_body(deploymentConfiguration={"maximumPercent": 50}),
            400,
            "deploymentConfiguration.maximumPercent",
        ),
        (create_body(serviceName="taken"), 409, "serviceName"),
        (create_body(serviceName="other", loadBalancers=lb(group="taken")), 409, None),
    ],
    ids=[
        "unknown-revision",
        "unknown-family",
        "inactive-revision",
        "wrong-type",
        "unknown-field",
        "lb-container",
        "lb-port",
        "bad-name",
        "not-fargate",
        "max-percent",
        "name-taken",
        "route-taken",
    ],
)
def test_a_bad_create_is_a_4xx_naming_the_field_and_changes_nothing(
    world: World, client: TestClient, body: dict[str, Any], status: int, field: str | None
) -> None:
    register(world)
    register(world)  # web:2, then INACTIVE
    task_definitions.deregister(world.store, "web:2")
    created(client, serviceName="taken", loadBalancers=lb(group="taken"), desiredCount=0)
    world.step(2)  # steady at 0 tasks
    services, routes = world.store.services.list(), world.lb.routes()

    response = client.post("/v1/services", json=body)

    assert response.status_code == status, response.text
    error = response.json()
    if field is not None:
        assert error["field"] == field
    else:
        assert "loadBalancers" in error["field"]
    assert error["hint"]
    world.step(2)
    assert world.store.services.list() == services
    assert world.lb.routes() == routes
    assert world.store.tasks.list() == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"taskDefinition": "web:9"}, 400, "taskDefinition"),
        ({"taskDefinition": "web:2"}, 409, "taskDefinition"),
        ({"desiredCount": -1}, 400, "desiredCount"),
        ({"forceNewDeployment": "yes"}, 400, "forceNewDeployment"),
        ({"desiredCuont": 3}, 400, "desiredCuont"),
        ({"loadBalancers": lb(port=8081)}, 400, "loadBalancers"),
        ({"service": "other"}, 400, "service"),
    ],
    ids=["unknown-revision", "inactive", "negative", "wrong-type", "unknown", "lb", "other"],
)
def test_a_bad_update_is_refused_and_changes_nothing(
    world: World, client: TestClient, body: dict[str, Any], status: int, field: str
) -> None:
    register(world)
    register(world)
    task_definitions.deregister(world.store, "web:2")
    created(client, desiredCount=0)
    before = world.store.services.list()

    response = client.post(f"/v1/services/{SERVICE}", json=body)

    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert world.store.services.list() == before


def test_a_new_revision_whose_containers_lack_the_load_balancer_port_is_refused(
    world: World, client: TestClient
) -> None:
    register(world)
    other = task_definition()
    other["containerDefinitions"][0]["portMappings"] = [{"containerPort": 9000}]
    register(world, other)
    created(client, desiredCount=0)
    before = world.store.services.list()

    response = client.post(f"/v1/services/{SERVICE}", json={"taskDefinition": "web:2"})

    assert response.status_code == 400
    assert response.json()["field"] == "loadBalancers[0].containerPort"
    assert world.store.services.list() == before


def test_unknown_services_are_404s_with_a_hint(client: TestClient) -> None:
    for response in (
        client.get("/v1/services/nope"),
        client.post("/v1/services/nope", json={"desiredCount": 1}),
        client.delete("/v1/services/nope"),
    ):
        assert response.status_code == 404
        assert response.json()["hint"]


def test_stop_task_on_a_service_task_drains_it_and_the_service_replaces_it(
    world: World, client: TestClient
) -> None:
    register(world)
    created(client, desiredCount=1)
    steady(world, client, count=1)
    (task,) = service_tasks(world)
    task_id = task.task.task_id

    response = client.post(f"/v1/tasks/{task_id}/stop", json={"reason": "rotate"})
    assert response.status_code == 200, response.text

    world.settle(
        lambda: world.store.tasks.get(task_id) is None and len(world.targets(SERVICE)) == 1,
        "a replacement to serve",
    )
    assert not any(seen.held_by_balancer for seen in world.engine.stops)


# -- launch throttling ------------------------------------------------------------------------


def test_a_service_whose_tasks_the_engine_refuses_is_throttled_with_ecs_s_event(
    world: World, client: TestClient
) -> None:
    refused = task_definition()
    refused["containerDefinitions"][0]["image"] = "absent:1"  # the engine refuses to run it
    register(world, refused)
    created(client)

    def started() -> int:
        return sum("has started" in e.message for e in world.store.events("service", SERVICE))

    world.step(30)  # the clock stands still: only the free retries go
    first = started()
    assert 0 < first <= 6
    events = [e.message for e in world.store.events("service", SERVICE)]
    assert (
        events.count(f"(service {SERVICE}) is unable to consistently start tasks successfully.")
        == 1
    )

    world.clock.advance(MAX_WAIT_S)  # the wait is over: one more round, then a longer wait
    world.step(5)
    second = started()
    assert second > first
    world.step(30)
    assert started() == second
