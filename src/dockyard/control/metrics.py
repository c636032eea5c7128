"""Training metrics from log lines, as SageMaker's MetricDefinitions define them (pure).

A training job names its metrics with regular expressions
(``{"Name": "train:loss", "Regex": "loss: ([0-9\\.]+)"}``). Every line of a host's
output is searched with each one; a match gives a point whose value is what the
first group captured. A capture that is not a number (``loss: n/a``) gives nothing
rather than an error: the script's output is not the user's request, and one odd
line must not lose the others. The values a job ends with are its
``FinalMetricDataList``: the latest point of each metric, from any host.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dockyard.spec.training_job import MetricDefinition


@dataclass(frozen=True)
class MetricRule:
    """One compiled MetricDefinition."""

    name: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class MetricValue:
    """One point of one metric: what a line said, and when it was printed."""

    name: str
    value: float
    at: float


def compile_rules(definitions: Sequence[MetricDefinition]) -> tuple[MetricRule, ...]:
    """The rules of a job's definitions (their regexes were checked when it was created)."""
    return tuple(MetricRule(d.name, re.compile(d.regex)) for d in definitions)


def values_in_line(rules: Sequence[MetricRule], line: str, at: float) -> list[MetricValue]:
    """The points one line gives: at most one per rule, the first match in the line."""
    found = []
    for rule in rules:
        match = rule.pattern.search(line)
        if match is None:
            continue
        value = _number(match.group(1))
        if value is not None:
            found.append(MetricValue(rule.name, value, at))
    return found


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def final_values(points: Iterable[MetricValue]) -> list[MetricValue]:
    """The latest point of each metric (ties: the one seen last), ordered by name."""
    latest: dict[str, MetricValue] = {}
    for point in points:
        kept = latest.get(point.name)
        if kept is None or point.at >= kept.at:
            latest[point.name] = point
    return [latest[name] for name in sorted(latest)]
