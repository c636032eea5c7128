"""Resizing an endpoint's variant in place (``POST /v1/endpoints/NAME/capacity``).

On the in-memory control plane: the variant's service gains or drains replicas, the
endpoint stays InService and reports the new desired count, and a bad request (or a
busy endpoint) is refused with the field named and nothing changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from dockyard.server.app import create_app

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


def resize(client: TestClient, body: Any) -> Any:
    return client.post("/v1/endpoints/iris/capacity", json=body)


def test_a_variant_resized_up_runs_more_replicas_and_stays_in_service(
    world: World, client: TestClient
) -> None:
    world.deploy(count=1)
    world.in_service(count=1)

    answer = resize(client, {"DesiredInstanceCount": 3})

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "EndpointName": "iris",
        "VariantName": "AllTraffic",
        "DesiredInstanceCount": 3,
    }
    world.in_service(count=3)
    described = client.get("/v1/endpoints/iris").json()
    assert described["DesiredReplicas"] == 3
    assert described["ProductionVariants"][0]["DesiredInstanceCount"] == 3
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 3


def test_a_variant_resized_down_drains_replicas(world: World, client: TestClient) -> None:
    world.deploy(count=2)
    world.in_service(count=2)

    assert resize(client, {"DesiredInstanceCount": 1}).status_code == 200

    world.settle(lambda: len(world.targets()) == 1, "one target left")
    assert world.status() == "InService"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"DesiredInstanceCount": 0}, "DesiredInstanceCount"),
        ({"DesiredInstanceCount": "two"}, "DesiredInstanceCount"),
        ({}, "DesiredInstanceCount"),
        ({"DesiredInstanceCount": 2, "VariantName": "Shadow"}, "VariantName"),
    ],
    ids=["zero", "not-a-number", "missing", "unknown-variant"],
)
def test_a_bad_resize_is_a_400_naming_the_field_and_changes_nothing(
    world: World, client: TestClient, body: dict[str, Any], field: str
) -> None:
    world.deploy(count=1)
    world.in_service(count=1)

    answer = resize(client, body)

    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
    assert answer.json()["hint"]
    assert client.get("/v1/endpoints/iris").json()["DesiredReplicas"] == 1


def test_an_endpoint_still_creating_is_not_resized(world: World, client: TestClient) -> None:
    world.deploy(count=1)

    answer = resize(client, {"DesiredInstanceCount": 2})

    assert answer.status_code == 409
    assert "InService" in answer.json()["message"]


def test_an_unknown_endpoint_is_a_404(client: TestClient) -> None:
    assert resize(client, {"DesiredInstanceCount": 2}).status_code == 404
