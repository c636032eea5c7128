"""Target group attributes: ELB's keys and ranges, errors naming the entry and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.errors import SpecError
from dockyard.ports.lb import RouteSettings
from dockyard.spec.target_group import (
    ALGORITHM,
    DEREGISTRATION_DELAY,
    SLOW_START,
    TargetGroupAttributes,
    attributes_from_flags,
    modify_attributes,
)

pytestmark = pytest.mark.unit


def attr(key: str, value: Any) -> dict[str, Any]:
    return {"Key": key, "Value": value}


def test_defaults_are_round_robin_no_slow_start_and_a_short_drain() -> None:
    default = TargetGroupAttributes()
    assert default.as_list() == [
        attr(ALGORITHM, "round_robin"),
        attr(SLOW_START, "0"),
        attr(DEREGISTRATION_DELAY, "5"),
    ]
    assert default.route_settings() == RouteSettings("round_robin", 0)


def test_attributes_apply_on_top_of_the_current_ones() -> None:
    lor = modify_attributes(
        TargetGroupAttributes(), [attr(ALGORITHM, "least_outstanding_requests")]
    )
    assert lor == TargetGroupAttributes(algorithm="least_outstanding_requests")
    assert lor.route_settings() == RouteSettings("least_outstanding_requests", 0)
    slow = modify_attributes(
        TargetGroupAttributes(), [attr(SLOW_START, "30"), attr(DEREGISTRATION_DELAY, "0")]
    )
    assert (slow.slow_start_s, slow.deregistration_delay_s) == (30, 0)
    assert modify_attributes(slow, [attr(SLOW_START, "0")]).deregistration_delay_s == 0


@pytest.mark.parametrize(
    ("attributes", "field", "words"),
    [
        ([attr(ALGORITHM, "fastest")], "Attributes[0].Value", "round_robin or"),
        ([attr(ALGORITHM, "weighted_random")], "Attributes[0].Value", "not supported"),
        ([attr(SLOW_START, "10")], "Attributes[0].Value", "at least 30"),
        ([attr(SLOW_START, "901")], "Attributes[0].Value", "string"),
        ([attr(SLOW_START, "-1")], "Attributes[0].Value", "string"),
        (
            [attr(ALGORITHM, "round_robin"), attr(DEREGISTRATION_DELAY, "3601")],
            "Attributes[1].Value",
            "string",
        ),
        ([attr("slow_start.duration", "30")], "Attributes[0].Key", SLOW_START),
        ([attr("stickiness.enabled", "true")], "Attributes[0].Key", "use one of"),
        ([{"Key": SLOW_START}], "Attributes[0].Value", "string"),
        ([attr(SLOW_START, 30)], "Attributes[0].Value", None),
        ({"Key": SLOW_START}, "Attributes", None),
        (
            [attr(ALGORITHM, "least_outstanding_requests"), attr(SLOW_START, "30")],
            "Attributes",
            "round_robin",
        ),
    ],
)
def test_bad_attributes_name_the_entry_and_the_fix(
    attributes: Any, field: str, words: str | None
) -> None:
    with pytest.raises(SpecError) as caught:
        modify_attributes(TargetGroupAttributes(), attributes)
    assert caught.value.field == field
    assert caught.value.hint
    if words is not None:
        assert words in caught.value.hint


def test_flags_become_the_attribute_list_leaving_out_those_not_given() -> None:
    assert attributes_from_flags(None, None, None) == []
    assert attributes_from_flags("least_outstanding_requests", None, 10) == [
        attr(ALGORITHM, "least_outstanding_requests"),
        attr(DEREGISTRATION_DELAY, "10"),
    ]
