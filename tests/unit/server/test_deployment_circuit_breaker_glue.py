"""The deployment circuit breaker through the HTTP API and the control plane, on fakes.

A service of 2 steady on web:1 is updated to web:2, whose containers exit as soon as
they start. After the threshold of failed launches (3 for 2 tasks) the deployment is
FAILED with ECS's reason and events; with rollback the service is back on web:1's
deployment, without rollback it stops launching. The web:1 tasks are never stopped
and stay registered throughout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from test_ecs_service_glue import (
    SERVICE,
    client,
    created,
    described,
    register,
    service_tasks,
    steady,
    task_definition,
)

from dockyard.control.circuit_breaker import FAILED_REASON

if TYPE_CHECKING:
    from conftest import World
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.unit

__all__ = ["client"]  # the fixture, shared with the service glue tests


def breaker(*, rollback: bool) -> dict[str, Any]:
    return {"deploymentCircuitBreaker": {"enable": True, "rollback": rollback}}


def crash_broken(world: World) -> None:
    """Every running container of a web:2 task exits 1 (it "exits at start")."""
    for record in service_tasks(world):
        if record.task.revision != "web:2":
            continue
        for container in world.containers_of(record.task.task_id):
            if container.running:
                world.engine.exit(container.id, 1)


def deploy_broken(world: World, client: TestClient, *, rollback: bool) -> set[str]:
    """web:1 steady with the breaker on, then an update to web:2; the web:1 task ids."""
    register(world)
    register(world, task_definition(BROKEN="1"))  # web:2
    created(client, deploymentConfiguration=breaker(rollback=rollback))
    steady(world, client)
    old = {t.task.task_id for t in service_tasks(world)}
    response = client.post(f"/v1/services/{SERVICE}", json={"taskDefinition": "web:2"})
    assert response.status_code == 200, response.text
    return old


def messages(client: TestClient) -> list[str]:
    return [e["message"] for e in described(client)["service"]["events"]]


def test_a_revision_that_exits_at_start_trips_the_breaker_and_rolls_back(
    world: World, client: TestClient
) -> None:
    old = deploy_broken(world, client, rollback=True)
    failed_id = described(client)["service"]["deployments"][0]["id"]
    fewest_targets = 2

    def rolled_back() -> bool:
        nonlocal fewest_targets
        crash_broken(world)
        fewest_targets = min(fewest_targets, len(world.targets(SERVICE)))
        view = described(client)["service"]
        primary = view["deployments"][0]
        return primary["id"] != failed_id and primary["rolloutState"] == "COMPLETED"

    world.settle(rolled_back, "the rollback to web:1")

    view = described(client)
    service = view["service"]
    primary, failed = service["deployments"][:2]
    assert primary["taskDefinition"].endswith("web:1")
    assert primary["rolloutStateReason"] == f"ECS deployment {primary['id']} completed."
    assert failed["id"] == failed_id
    assert failed["rolloutState"] == "FAILED"
    assert failed["rolloutStateReason"] == FAILED_REASON
    assert failed["failedTasks"] >= 3  # 0.5 x 2 clamped to 3; two may fail in one pass
    assert service["taskDefinition"].endswith("web:1")
    # the old tasks were never stopped, and served all along
    assert fewest_targets == 2
    live = {t.task.task_id for t in service_tasks(world) if not t.task.is_done}
    assert old <= live
    assert not {s.task_id for s in world.engine.stops} & old
    assert set(world.targets(SERVICE)) == old
    said = messages(client)
    assert (
        f"(service {SERVICE}) (deployment {failed_id}) deployment failed: tasks failed to start."
        in said
    )
    assert f"(service {SERVICE}) rolling back to deployment {primary['id']}." in said
    # no web:2 task is launched after the breaker tripped
    launched = sum(1 for m in said if m.startswith(f"(service {SERVICE}) has started"))
    world.step(20)
    crash_broken(world)
    assert sum(1 for m in messages(client) if "has started" in m) == launched


def test_without_rollback_the_failed_deployment_stops_launching(
    world: World, client: TestClient
) -> None:
    old = deploy_broken(world, client, rollback=False)

    def failed() -> bool:
        crash_broken(world)
        return described(client)["service"]["deployments"][0]["rolloutState"] == "FAILED"

    world.settle(failed, "the deployment to fail")
    launched = sum(1 for m in messages(client) if "has started" in m)
    world.step(20)

    service = described(client)["service"]
    primary = service["deployments"][0]
    assert primary["status"] == "PRIMARY"
    assert primary["taskDefinition"].endswith("web:2")
    assert primary["failedTasks"] >= 3
    assert primary["rolloutStateReason"] == FAILED_REASON
    assert sum(1 for m in messages(client) if "has started" in m) == launched
    assert not any("rolling back" in m for m in messages(client))
    assert set(world.targets(SERVICE)) == old  # web:1 keeps serving

    # a new deployment starts afresh
    register(world, task_definition(COLOR="green"))  # web:3
    response = client.post(f"/v1/services/{SERVICE}", json={"taskDefinition": "web:3"})
    assert response.status_code == 200, response.text
    world.settle(
        lambda: described(client)["service"]["deployments"][0]["rolloutState"] == "COMPLETED",
        "the roll to web:3",
    )
    assert {t.task.revision for t in service_tasks(world) if not t.task.is_done} == {"web:3"}
