"""A service's target group attributes through the HTTP API, on fakes.

They come with CreateService / UpdateService (Dockyard's ``targetGroupAttributes``)
or through ModifyTargetGroupAttributes on the target group's name; the load balancer
gets the algorithm and slow start, the scheduler the deregistration delay. A bad
attribute is a 400 naming the entry, and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from test_ecs_service_glue import SERVICE, client, create_body, created, register  # noqa: F401

from dockyard.ports.lb import RouteSettings

if TYPE_CHECKING:
    from conftest import World
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.unit

LOR = {"Key": "load_balancing.algorithm.type", "Value": "least_outstanding_requests"}
SLOW_30 = {"Key": "slow_start.duration_seconds", "Value": "30"}
DRAIN_0 = {"Key": "deregistration_delay.timeout_seconds", "Value": "0"}


def attributes(client: TestClient) -> dict[str, str]:  # noqa: F811
    response = client.get(f"/v1/target-groups/{SERVICE}/attributes")
    assert response.status_code == 200, response.text
    return {a["Key"]: a["Value"] for a in response.json()["Attributes"]}


def test_a_service_gets_round_robin_by_default(world: World, client: TestClient) -> None:  # noqa: F811
    register(world)
    body = created(client)
    assert world.lb.settings[SERVICE] == RouteSettings("round_robin", 0)
    assert {a["Value"] for a in body["targetGroupAttributes"]} == {"round_robin", "0", "5"}


def test_attributes_given_at_create_reach_the_balancer_and_the_scheduler(
    world: World,
    client: TestClient,  # noqa: F811
) -> None:
    register(world)
    created(client, targetGroupAttributes=[LOR, DRAIN_0])
    assert world.lb.settings[SERVICE] == RouteSettings("least_outstanding_requests", 0)
    assert world.store.services.require(SERVICE).state.deregistration_delay_s == 0
    assert attributes(client)["load_balancing.algorithm.type"] == "least_outstanding_requests"


def test_update_and_modify_change_the_attributes_they_name(
    world: World,
    client: TestClient,  # noqa: F811
) -> None:
    register(world)
    created(client, targetGroupAttributes=[LOR])
    response = client.post(
        f"/v1/services/{SERVICE}",
        json={"targetGroupAttributes": [{**LOR, "Value": "round_robin"}, SLOW_30]},
    )
    assert response.status_code == 200, response.text
    assert world.lb.settings[SERVICE] == RouteSettings("round_robin", 30)
    response = client.put(
        "/v1/target-groups/arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/"
        f"{SERVICE}/0123456789abcdef/attributes",
        json={"Attributes": [DRAIN_0]},
    )
    assert response.status_code == 200, response.text
    assert attributes(client) == {
        "load_balancing.algorithm.type": "round_robin",
        "slow_start.duration_seconds": "30",
        "deregistration_delay.timeout_seconds": "0",
    }
    assert world.store.services.require(SERVICE).state.deregistration_delay_s == 0


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        (
            "/v1/services",
            "post",
            create_body(targetGroupAttributes=[LOR, SLOW_30]),
            "targetGroupAttributes",
        ),
        (
            "/v1/services",
            "post",
            create_body(serviceName="x", loadBalancers=[], targetGroupAttributes=[LOR]),
            "targetGroupAttributes",
        ),
        (
            f"/v1/services/{SERVICE}",
            "post",
            {"targetGroupAttributes": [{**SLOW_30, "Value": "5"}]},
            "targetGroupAttributes[0].Value",
        ),
        (
            f"/v1/target-groups/{SERVICE}/attributes",
            "put",
            {"Attributes": [{"Key": "stickiness.enabled", "Value": "true"}]},
            "Attributes[0].Key",
        ),
        (f"/v1/target-groups/{SERVICE}/attributes", "put", {"Attribute": []}, "Attributes"),
    ],
    ids=[
        "lor-with-slow-start",
        "no-load-balancer",
        "slow-start-too-short",
        "unknown-key",
        "no-attributes",
    ],
)
def test_bad_attributes_are_400s_naming_the_entry_and_change_nothing(
    world: World,
    client: TestClient,  # noqa: F811
    path: str,
    method: str,
    body: dict[str, Any],
    field: str,
) -> None:
    register(world)
    if path != "/v1/services":
        created(client)
    before = (world.store.services.list(), dict(world.lb.settings))
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert response.json()["hint"]
    assert (world.store.services.list(), dict(world.lb.settings)) == before


def test_an_unknown_target_group_is_a_404_and_a_bad_name_a_400(
    client: TestClient,  # noqa: F811
) -> None:
    response = client.get("/v1/target-groups/nothing/attributes")
    assert response.status_code == 404
    assert response.json()["hint"]
    response = client.get("/v1/target-groups/no:such:arn/attributes")
    assert response.status_code == 400
    assert response.json()["field"] == "TargetGroupArn"
