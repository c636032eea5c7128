"""Autoscaling of ECS services through the HTTP API and the control plane, on fakes.

The engine's statistics (CPU nanoseconds set on the fake containers) become the usage
collector's points, the scaling reconciler averages them over the service's RUNNING
tasks, raises the desired count within the cooldowns and bounds, and the service
starts the tasks; every activity is a service event. Bad requests are 4xx naming the
field and store nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from dockyard.control.task import TaskStatus
from dockyard.server import task_definitions
from dockyard.server.app import create_app
from dockyard.server.usage import TASK_INTERVAL_S
from dockyard.spec.task_definition import parse_task_definition

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit

SERVICE = "web"
TARGET = {
    "ServiceNamespace": "ecs",
    "ResourceId": f"service/default/{SERVICE}",
    "ScalableDimension": "ecs:service:DesiredCount",
}


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    world.platform.clock = world.clock  # API and loop share the test's time
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


def serving(world: World, client: TestClient, count: int = 1) -> None:
    definition = {
        "family": SERVICE,
        "cpu": "1024",
        "memory": "2048",
        "containerDefinitions": [
            {"name": "app", "image": "model:1", "portMappings": [{"containerPort": 8080}]}
        ],
    }
    task_definitions.register(world.store, parse_task_definition(definition))
    body = {
        "serviceName": SERVICE,
        "taskDefinition": f"{SERVICE}:1",
        "desiredCount": count,
        "loadBalancers": [
            {"targetGroupArn": SERVICE, "containerName": "app", "containerPort": 8080}
        ],
    }
    assert client.post("/v1/services", json=body).status_code == 201
    world.settle(lambda: len(healthy(world)) == count, f"{count} healthy tasks")


def healthy(world: World) -> list[str]:
    return [name for name, health in world.targets(SERVICE).items() if health == "healthy"]


def scale(client: TestClient, low: int, high: int, **config: Any) -> None:
    target = client.post(
        "/v1/autoscaling/targets", json={**TARGET, "MinCapacity": low, "MaxCapacity": high}
    )
    assert target.status_code == 200, target.text
    policy = {
        **TARGET,
        "PolicyName": "cpu50",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
            },
            **config,
        },
    }
    response = client.post("/v1/autoscaling/policies", json=policy)
    assert response.status_code == 200, response.text
    assert response.json()["PolicyARN"].endswith("policyName/cpu50")


class Load:
    """Each running task's containers burn ``cores`` of CPU between collections."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.used: dict[str, int] = {}
        # a first reading at the test's time, so every interval after it is exact
        world.clock.advance(TASK_INTERVAL_S)
        self._burn(0.0)
        world.step()

    def tick(self, cores: float) -> None:
        self.world.clock.advance(TASK_INTERVAL_S)
        self._burn(cores)
        self.world.step(3)

    def _burn(self, cores: float) -> None:
        world = self.world
        for record in world.store.tasks.list(f"service/{SERVICE}"):
            if record.task.last_status is not TaskStatus.RUNNING:
                continue
            for container in world.containers_of(record.task.task_id):
                used = self.used.get(container.id, 0) + int(cores * TASK_INTERVAL_S * 1e9)
                self.used[container.id] = used
                world.engine.set_usage(
                    container.id, cpu_used_ns=used, memory_bytes=2**30, at=world.clock.now
                )


def desired(world: World) -> int:
    return world.store.services.require(SERVICE).state.desired_count


def events(world: World) -> list[str]:
    return [e.message for e in world.store.events("service", SERVICE, limit=10_000)]


def test_cpu_above_target_raises_the_desired_count_and_says_why(
    world: World, client: TestClient
) -> None:
    serving(world, client)
    scale(client, 1, 4, ScaleOutCooldown=60)
    load = Load(world)
    for _ in range(4):  # one whole core: 100 % of the 1-vCPU task, twice the target
        load.tick(1.0)
        if desired(world) > 1:
            break

    assert desired(world) == 2
    scaled = [m for m in events(world) if "Setting desired count to 2" in m]
    assert scaled and "Change successfully fulfilled by ecs." in scaled[0]
    assert "cpu50" in scaled[0]
    world.settle(lambda: len(healthy(world)) == 2, "the added task serving")
    activities = client.get(f"/v1/autoscaling/activities/{SERVICE}").json()["ScalingActivities"]
    assert activities[0]["Description"] == "Setting desired count to 2."
    assert activities[0]["StatusCode"] == "Successful"


def test_scale_out_waits_for_the_cooldown_then_stops_at_max(
    world: World, client: TestClient
) -> None:
    serving(world, client)
    scale(client, 1, 3, ScaleOutCooldown=60)
    load = Load(world)
    ticks = 0
    while desired(world) == 1:
        load.tick(1.0)
        ticks += 1
        assert ticks < 10, "no scale-out"
    first = world.clock.now
    counts = []
    while world.clock.now < first + 55:  # inside the cooldown: the count holds
        load.tick(1.0)
        counts.append(desired(world))
    assert set(counts) == {2}
    for _ in range(6):  # past it: out again, capped at MaxCapacity 3
        load.tick(1.0)
    assert desired(world) == 3
    assert any("capped by MaxCapacity" in m for m in events(world))


def test_scale_in_disabled_keeps_tasks_when_idle(world: World, client: TestClient) -> None:
    serving(world, client, count=3)
    scale(client, 1, 5, DisableScaleIn=True, ScaleInCooldown=0)
    load = Load(world)
    for _ in range(20):
        load.tick(0.01)
    assert desired(world) == 3
    answer = client.get(f"/v1/autoscaling/services/{SERVICE}").json()
    assert "scale-in disabled" in answer["Now"]["Reason"]


def test_idle_service_scales_in_after_the_cooldown(world: World, client: TestClient) -> None:
    serving(world, client, count=3)
    scale(client, 1, 5, ScaleInCooldown=30)
    load = Load(world)
    for _ in range(20):
        load.tick(0.05)
        if desired(world) < 3:
            break
    assert desired(world) == 1
    assert any("Setting desired count to 1 (from 3)" in m for m in events(world))


def test_min_capacity_above_the_count_scales_out_at_once(world: World, client: TestClient) -> None:
    serving(world, client)
    response = client.post(
        "/v1/autoscaling/targets", json={**TARGET, "MinCapacity": 2, "MaxCapacity": 4}
    )
    assert response.status_code == 200
    world.step()
    assert desired(world) == 2
    assert any("below MinCapacity 2" in m for m in events(world))


def test_a_due_scheduled_action_changes_min_capacity(world: World, client: TestClient) -> None:
    serving(world, client)
    scale(client, 1, 4)
    action = {
        **TARGET,
        "ScheduledActionName": "busy-hours",
        "Schedule": "rate(1 minute)",
        "ScalableTargetAction": {"MinCapacity": 3},
    }
    assert client.post("/v1/autoscaling/scheduled-actions", json=action).status_code == 200
    world.step()
    assert desired(world) == 1
    world.clock.advance(61)
    world.step(2)
    assert desired(world) == 3
    assert any("scheduled action busy-hours" in m for m in events(world))
    target = client.get("/v1/autoscaling/targets").json()["ScalableTargets"][0]
    assert target["MinCapacity"] == 3


def test_describe_shows_policy_metric_and_decisions(world: World, client: TestClient) -> None:
    serving(world, client)
    scale(client, 1, 4)
    load = Load(world)
    load.tick(0.2)
    load.tick(0.2)
    answer = client.get(f"/v1/autoscaling/services/{SERVICE}").json()
    assert answer["DesiredCount"] == 1
    assert answer["ScalingPolicies"][0]["PolicyName"] == "cpu50"
    assert "ECSServiceAverageCPUUtilization" in answer["Metrics"]


def test_delete_policy_and_deregister_target(world: World, client: TestClient) -> None:
    serving(world, client)
    scale(client, 1, 4)
    assert client.delete(f"/v1/autoscaling/policies/{SERVICE}/cpu50").status_code == 200
    assert client.get("/v1/autoscaling/policies").json()["ScalingPolicies"] == []
    assert client.delete(f"/v1/autoscaling/policies/{SERVICE}/cpu50").status_code == 404
    scale(client, 1, 4)
    assert client.delete(f"/v1/autoscaling/targets/{SERVICE}").status_code == 200
    assert world.store.scaling_policies.list() == []
    assert world.store.scalable_targets.list() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TARGET, "MinCapacity": "one", "MaxCapacity": 3}, "MinCapacity"),
        ({**TARGET, "MinCapacity": 4, "MaxCapacity": 3}, "MinCapacity"),
        (
            {**TARGET, "ServiceNamespace": "sagemaker", "MinCapacity": 1, "MaxCapacity": 3},
            "ServiceNamespace",
        ),
        (
            {**TARGET, "ResourceId": "service/default/nope", "MinCapacity": 1, "MaxCapacity": 3},
            "ResourceId",
        ),
        ({**TARGET, "ResourceId": "table/x", "MinCapacity": 1, "MaxCapacity": 3}, "ResourceId"),
        ({**TARGET, "MinCapacity": 1}, "MaxCapacity"),
        ({**TARGET, "MinCapacity": 1, "MaxCapacity": 3, "Colour": "red"}, "Colour"),
    ],
)
def test_bad_targets_are_400_naming_the_field_and_store_nothing(
    world: World, client: TestClient, body: dict[str, Any], field: str
) -> None:
    serving(world, client)
    response = client.post("/v1/autoscaling/targets", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert world.store.scalable_targets.list() == []


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"TargetValue": 150.0}, "TargetTrackingScalingPolicyConfiguration.TargetValue"),
        (
            {
                "TargetValue": 50.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "RDSReaderAverageCPUUtilization"
                },
            },
            "TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType",
        ),
        (
            {"TargetValue": 50.0, "ScaleOutCooldown": -1},
            "TargetTrackingScalingPolicyConfiguration.ScaleOutCooldown",
        ),
    ],
)
def test_bad_policies_are_400_naming_the_field_and_store_nothing(
    world: World, client: TestClient, config: dict[str, Any], field: str
) -> None:
    serving(world, client)
    client.post("/v1/autoscaling/targets", json={**TARGET, "MinCapacity": 1, "MaxCapacity": 3})
    full = {
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
        },
        **config,
    }
    body = {
        **TARGET,
        "PolicyName": "p",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": full,
    }
    response = client.post("/v1/autoscaling/policies", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert world.store.scaling_policies.list() == []


def test_a_policy_needs_a_registered_target(world: World, client: TestClient) -> None:
    serving(world, client)
    body = {
        **TARGET,
        "PolicyName": "p",
        "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": {
            "AdjustmentType": "ChangeInCapacity",
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        },
        "Alarm": {"MetricType": "ECSServiceAverageCPUUtilization", "Threshold": 70},
    }
    response = client.post("/v1/autoscaling/policies", json=body)
    assert response.status_code == 404
    client.post("/v1/autoscaling/targets", json={**TARGET, "MinCapacity": 1, "MaxCapacity": 3})
    assert client.post("/v1/autoscaling/policies", json=body).status_code == 200
    view = client.get("/v1/autoscaling/policies").json()["ScalingPolicies"][0]
    assert view["PolicyType"] == "StepScaling"
    assert view["Alarm"]["Threshold"] == 70
