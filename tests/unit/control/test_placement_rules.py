"""Placement beyond binpack/spread on instanceId: attribute spread, random, memberOf;
and the request's strategies and constraints as ECS's JSON spells them."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.control.placement import (
    Instance,
    Placed,
    PlacedTask,
    Request,
    Strategy,
    Unplaceable,
    matches,
    place,
    reservation,
    unable_to_place,
)
from dockyard.errors import SpecError
from dockyard.spec.placement import PlacementRules, parse_placement, request_placement
from dockyard.spec.task_definition import parse_task_definition

pytestmark = pytest.mark.unit

A = Instance("a", 2048, 4096, {"ecs.availability-zone": "z1"})
B = Instance("b", 2048, 4096, {"ecs.availability-zone": "z1"})
C = Instance("c", 2048, 4096, {"ecs.availability-zone": "z2"})


def test_spread_on_an_attribute_prefers_the_zone_with_fewest_tasks_of_the_group() -> None:
    tasks = [PlacedTask("a", 256, 512, "service:web")]
    request = Request(
        256, 512, "service:web", (Strategy("spread", "attribute:ecs.availability-zone"),)
    )
    assert place(request, [A, B, C], tasks) == Placed("c")
    # by instance, b (no task) would do as well as c
    by_instance = Request(256, 512, "service:web", (Strategy("spread", "instanceId"),))
    assert place(by_instance, [A, B, C], tasks) == Placed("b")


def test_random_depends_on_the_seed_only() -> None:
    chosen = {
        place(Request(1, 1, "g", (Strategy("random"),), seed=s), [A, B, C], []) for s in range(40)
    }
    assert chosen == {Placed("a"), Placed("b"), Placed("c")}
    same = Request(1, 1, "g", (Strategy("random"),), seed=7)
    assert place(same, [A, B, C], []) == place(same, [A, B, C], [])


@pytest.mark.parametrize(
    ("expression", "members"),
    [
        ("attribute:ecs.availability-zone == z2", {"c"}),
        ("attribute:ecs.availability-zone != z2", {"a", "b"}),
        ("attribute:ecs.availability-zone in [z1, z3]", {"a", "b"}),
        ("attribute:ecs.availability-zone not in [z1]", {"c"}),
        ("attribute:missing == x", set()),
    ],
)
def test_member_of_expressions(expression: str, members: set[str]) -> None:
    assert {i.instance_id for i in (A, B, C) if matches(expression, i)} == members


def test_member_of_matching_nothing_is_unplaceable_in_ecs_words() -> None:
    outcome = place(Request(1, 1, "g", member_of="attribute:x == y"), [A, C], [])
    assert outcome == Unplaceable("MemberOf", "a", "memberOf placement constraint")
    assert unable_to_place("web", outcome).endswith(
        'encountered error "MemberOf placement constraint unsatisfied."'
    )


def test_a_task_reserves_its_task_size_else_its_containers_sum() -> None:
    def definition(**task: Any) -> Any:
        containers = [
            {"name": "a", "image": "x", "cpu": 128, "memory": 256},
            {"name": "b", "image": "x", "memoryReservation": 64},
        ]
        return parse_task_definition({"family": "f", "containerDefinitions": containers, **task})

    assert reservation(definition()) == (128, 320)
    assert reservation(definition(cpu="512", memory="1024")) == (512, 1024)


def test_placement_json_is_read_as_ecs_spells_it() -> None:
    rules = parse_placement(
        [{"type": "spread", "field": "host"}, {"type": "binpack", "field": "MEMORY"}],
        [{"type": "distinctInstance"}, {"type": "memberOf", "expression": "attribute:a == b"}],
    )
    assert rules == PlacementRules(
        (("spread", "instanceId"), ("binpack", "memory")), True, "attribute:a == b"
    )
    assert parse_placement(None, None) == PlacementRules()


@pytest.mark.parametrize(
    ("strategies", "constraints", "launch_type", "field"),
    [
        ([{"type": "spread"}], None, None, "placementStrategy[0].field"),
        ([{"type": "random"}] * 6, None, None, "placementStrategy"),
        (
            None,
            [{"type": "distinctInstance", "expression": "x"}],
            None,
            "placementConstraints[0].expression",
        ),
        (None, [{"type": "memberOf"}], None, "placementConstraints[0].expression"),
        (None, [{"type": "nearby"}], None, "placementConstraints[0].type"),
        (None, [{"type": "distinctInstance"}], "FARGATE", "placementConstraints"),
    ],
)
def test_bad_placement_names_the_field(
    strategies: Any, constraints: Any, launch_type: str | None, field: str
) -> None:
    with pytest.raises(SpecError) as caught:
        request_placement(strategies, constraints, launch_type)
    assert caught.value.field == field
    assert caught.value.hint
