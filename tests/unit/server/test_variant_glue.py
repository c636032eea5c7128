"""Production variants on the in-memory control plane: each variant on its own route,
the endpoint's route split over them, weights and counts changed in place
(``POST /v1/endpoints/NAME/weights-and-capacities``), and an update that replaces a
variant keeping the old one in the split until the new one serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from dockyard.errors import SpecError
from dockyard.package.dockerfile import LABEL_BIND_TO_PORT
from dockyard.ports.lb import Share
from dockyard.server import endpoints
from dockyard.server.app import create_app
from dockyard.server.endpoints import deploy_resources
from dockyard.server.pipeline_image import router_ref
from dockyard.spec.endpoint import parse_endpoint, parse_endpoint_config, parse_model

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.unit

IMAGE = "model:1"  # the image the world's engine holds
NAME = "ab"


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.platform, world.control_plane)) as client:
        yield client


def deploy_variants(world: World, variants: dict[str, tuple[float, int]]) -> None:
    """Deploy ``NAME`` with one variant per entry: name -> (weight, instances)."""
    config = parse_endpoint_config(
        {
            "EndpointConfigName": f"{NAME}-{'-'.join(variants)}",
            "ProductionVariants": [
                {
                    "VariantName": variant,
                    "ModelName": "m",
                    "InitialVariantWeight": weight,
                    "InitialInstanceCount": count,
                }
                for variant, (weight, count) in variants.items()
            ],
        }
    )
    model = parse_model({"ModelName": "m", "PrimaryContainer": {"Image": IMAGE}})
    endpoint = parse_endpoint(
        {"EndpointName": NAME, "EndpointConfigName": config.endpoint_config_name}
    )
    deploy_resources(world.platform, endpoint, config, {"m": model})


def serving(world: World, routes: dict[str, int]) -> None:
    def ready() -> bool:
        healthy = {
            route: sum(1 for h in world.targets(route).values() if h == "healthy")
            for route in routes
        }
        return world.status(NAME) == "InService" and healthy == routes

    world.settle(ready, f"{NAME} InService with {routes}")


def test_each_variant_serves_on_its_own_route_and_the_endpoint_s_route_is_split(
    world: World,
) -> None:
    deploy_variants(world, {"a": (0.75, 1), "b": (0.25, 2)})
    serving(world, {NAME: 1, f"{NAME}-b": 2})
    assert world.lb.splits()[NAME] == (Share("a", NAME, 0.75), Share("b", f"{NAME}-b", 0.25))


def test_new_weights_change_the_split_and_no_replica(world: World, client: TestClient) -> None:
    deploy_variants(world, {"a": (0.5, 1), "b": (0.5, 1)})
    serving(world, {NAME: 1, f"{NAME}-b": 1})
    before = {c.id for c in world.engine.containers() if c.running}

    answer = client.post(
        f"/v1/endpoints/{NAME}/weights-and-capacities",
        json={"DesiredWeightsAndCapacities": [{"VariantName": "a", "DesiredWeight": 0.8}]},
    )

    assert answer.status_code == 200, answer.text
    world.settle(
        lambda: world.lb.splits()[NAME][0].weight == 0.8, "the split to carry the new weight"
    )
    world.step(3)
    assert {c.id for c in world.engine.containers() if c.running} == before
    described = client.get(f"/v1/endpoints/{NAME}").json()
    weights = {v["VariantName"]: v["CurrentWeight"] for v in described["ProductionVariants"]}
    assert weights == {"a": 0.8, "b": 0.5}


def test_a_new_capacity_adds_replicas_to_that_variant_only(
    world: World, client: TestClient
) -> None:
    deploy_variants(world, {"a": (1.0, 1), "b": (1.0, 1)})
    serving(world, {NAME: 1, f"{NAME}-b": 1})
    answer = client.post(
        f"/v1/endpoints/{NAME}/weights-and-capacities",
        json={"DesiredWeightsAndCapacities": [{"VariantName": "b", "DesiredInstanceCount": 3}]},
    )
    assert answer.status_code == 200, answer.text
    serving(world, {NAME: 1, f"{NAME}-b": 3})


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "DesiredWeightsAndCapacities"),
        ([{"VariantName": "zz", "DesiredWeight": 1}], "DesiredWeightsAndCapacities[0].VariantName"),
        (
            [{"VariantName": "a", "DesiredWeight": -1}],
            "DesiredWeightsAndCapacities[0].DesiredWeight",
        ),
        ([{"VariantName": "a"}], "DesiredWeightsAndCapacities[0]"),
        (
            [{"VariantName": "a", "DesiredWeight": 0}, {"VariantName": "b", "DesiredWeight": 0}],
            "DesiredWeightsAndCapacities",
        ),
    ],
    ids=["empty", "unknown-variant", "negative", "no-change", "all-zero"],
)
def test_a_bad_update_is_a_400_naming_the_field_and_changes_nothing(
    world: World, client: TestClient, items: list[dict[str, Any]], field: str
) -> None:
    deploy_variants(world, {"a": (1.0, 1), "b": (1.0, 1)})
    serving(world, {NAME: 1, f"{NAME}-b": 1})
    before = world.store.endpoints.require(NAME)

    answer = client.post(
        f"/v1/endpoints/{NAME}/weights-and-capacities",
        json={"DesiredWeightsAndCapacities": items},
    )

    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
    assert world.store.endpoints.require(NAME) == before


def test_an_update_that_replaces_a_variant_keeps_the_old_one_until_the_new_one_serves(
    world: World,
) -> None:
    deploy_variants(world, {"a": (1.0, 1)})
    serving(world, {NAME: 1})

    deploy_variants(world, {"b": (1.0, 1)})
    world.step()
    # b has no replica taking traffic yet: a, retired (no longer pinnable), keeps it all
    assert world.lb.splits()[NAME] == (
        Share("b", f"{NAME}-b", 0.0),
        Share("a", NAME, 1.0, pinnable=False),
    )
    serving(world, {f"{NAME}-b": 1})
    assert world.lb.splits()[NAME] == (Share("b", f"{NAME}-b", 1.0),)
    world.settle(
        lambda: not world.store.endpoints.require(NAME).retired, "the retired variant to go"
    )
    assert not world.targets(NAME)
    assert world.store.services.get(f"{NAME}-a") is None


def test_a_pipeline_deploys_as_one_task_per_replica_behind_its_router(world: World) -> None:
    world.engine.add_image("stage:1", labels={LABEL_BIND_TO_PORT: "true"})
    world.engine.add_image(router_ref())
    containers = [
        {"ContainerHostname": "pre", "Image": "stage:1"},
        {"ContainerHostname": "model", "Image": "stage:1"},
    ]
    endpoints.deploy(world.platform, {"EndpointName": "pipe", "Containers": containers})
    world.settle(lambda: world.status("pipe") == "InService", "the pipeline InService")
    (replica,) = world.store.tasks.list("service/pipe-AllTraffic")
    assert [c.name for c in replica.definition.container_definitions] == [
        "pre",
        "model",
        "dockyard-router",
    ]


def test_a_pipeline_image_without_the_bind_to_port_label_is_refused(world: World) -> None:
    world.engine.add_image("plain:1")
    world.engine.add_image(router_ref())
    containers = [{"Image": "plain:1"}, {"Image": "plain:1"}]
    with pytest.raises(SpecError) as caught:
        endpoints.deploy(world.platform, {"EndpointName": "pipe", "Containers": containers})
    assert caught.value.field == "Containers[0].Image"
    assert world.store.endpoints.get("pipe") is None
