"""Training metrics read from output lines, as SageMaker's MetricDefinitions define them."""

from __future__ import annotations

import pytest

from dockyard.control.metrics import MetricValue, compile_rules, final_values, values_in_line
from dockyard.spec.training_job import MetricDefinition

pytestmark = pytest.mark.unit

RULES = compile_rules(
    [
        MetricDefinition(name="train:loss", regex="loss: ([0-9.e+-]+)"),
        MetricDefinition(name="val:acc", regex=r"val_acc=(\S+)"),
    ]
)


def test_the_first_group_of_each_matching_rule_is_a_point_at_the_line_s_time() -> None:
    assert values_in_line(RULES, "epoch 3 loss: 0.25 val_acc=0.9", 12.0) == [
        MetricValue("train:loss", 0.25, 12.0),
        MetricValue("val:acc", 0.9, 12.0),
    ]


def test_a_line_no_rule_matches_gives_nothing() -> None:
    assert values_in_line(RULES, "epoch 3 starting", 1.0) == []


def test_only_the_first_match_in_a_line_counts() -> None:
    assert values_in_line(RULES, "loss: 1 loss: 2", 1.0) == [MetricValue("train:loss", 1.0, 1.0)]


@pytest.mark.parametrize("text", ["val_acc=n/a", "val_acc=nan", "val_acc=inf", "val_acc=--"])
def test_a_capture_that_is_not_a_finite_number_gives_nothing(text: str) -> None:
    assert values_in_line(RULES, text, 1.0) == []


def test_scientific_notation_is_a_number() -> None:
    assert values_in_line(RULES, "loss: 1.5e-3", 1.0) == [MetricValue("train:loss", 0.0015, 1.0)]


def test_final_values_are_each_metric_s_latest_point_by_time() -> None:
    points = [
        MetricValue("loss", 0.9, 1.0),
        MetricValue("acc", 0.5, 2.0),
        MetricValue("loss", 0.2, 3.0),
        MetricValue("loss", 0.4, 2.5),  # printed earlier by another host, copied later
    ]
    assert final_values(points) == [MetricValue("acc", 0.5, 2.0), MetricValue("loss", 0.2, 3.0)]


def test_no_points_no_final_values() -> None:
    assert final_values([]) == []
