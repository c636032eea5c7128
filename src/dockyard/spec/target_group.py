"""A service's target group attributes: what ELB's ModifyTargetGroupAttributes sets.

Locally a target group is a route of Dockyard's load balancer (see
:mod:`dockyard.spec.service`); its attributes say how that route spreads requests and
drains targets. The keys and ranges are ALB's:

- ``load_balancing.algorithm.type``: ``round_robin`` (the default) or
  ``least_outstanding_requests``; ALB's ``weighted_random`` is refused (its anomaly
  mitigation has no local counterpart);
- ``slow_start.duration_seconds``: 0 (off, the default) or 30-900; ALB does not
  combine it with least outstanding requests, and neither does Dockyard;
- ``deregistration_delay.timeout_seconds``: 0-3600, how long a deregistering target
  may finish its requests in flight before they are cut. ALB's default is 300 s;
  Dockyard's is 5 s, since model requests take milliseconds (a target with nothing in
  flight is removed at once either way).

Other ALB keys (stickiness, cross-zone, health-check ones) are refused naming the key:
accepting them would promise behaviour the route does not have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from dockyard.errors import SpecError
from dockyard.ports.lb import RouteSettings
from dockyard.spec.aws_shape import check_shape
from dockyard.spec.errors import InvalidDocument, did_you_mean

ALGORITHM = "load_balancing.algorithm.type"
SLOW_START = "slow_start.duration_seconds"
DEREGISTRATION_DELAY = "deregistration_delay.timeout_seconds"
KEYS = (ALGORITHM, SLOW_START, DEREGISTRATION_DELAY)

ALGORITHMS = ("round_robin", "least_outstanding_requests")
SLOW_START_RANGE = (30, 900)
DEREGISTRATION_DELAY_RANGE = (0, 3600)
#: Dockyard's default deregistration delay (ALB's is 300 s)
DEFAULT_DEREGISTRATION_DELAY_S = 5


@dataclass(frozen=True)
class TargetGroupAttributes:
    """The attributes of one target group, defaults as described in the module."""

    algorithm: str = "round_robin"
    slow_start_s: int = 0
    deregistration_delay_s: int = DEFAULT_DEREGISTRATION_DELAY_S

    def as_list(self) -> list[dict[str, str]]:
        """ELB's ``Attributes``: ``[{"Key": ..., "Value": ...}]``, values as strings."""
        values = (self.algorithm, str(self.slow_start_s), str(self.deregistration_delay_s))
        return [{"Key": key, "Value": value} for key, value in zip(KEYS, values, strict=True)]

    def route_settings(self) -> RouteSettings:
        """What the load balancer applies of these attributes."""
        if self.algorithm == "least_outstanding_requests":
            return RouteSettings("least_outstanding_requests", self.slow_start_s)
        return RouteSettings("round_robin", self.slow_start_s)


def modify_attributes(
    current: TargetGroupAttributes, attributes: Any, *, at: str = "Attributes"
) -> TargetGroupAttributes:
    """``current`` with the ``[{"Key", "Value"}]`` list ``attributes`` applied.

    Raise :class:`SpecError` naming ``at[i].Value`` (or ``.Key``) and the fix; keys not
    named keep their value.
    """
    problems = check_shape("elbv2", "TargetGroupAttributes", attributes, (at,))
    if problems:
        raise InvalidDocument(problems, what="list of target group attributes")
    result = current
    for index, item in enumerate(cast(Sequence[Mapping[str, Any]], attributes)):
        field = f"{at}[{index}]"
        key, value = item.get("Key"), item.get("Value")
        if key not in KEYS:
            guess = did_you_mean(str(key), KEYS)
            raise SpecError(
                f"target group attribute {key} is not supported by Dockyard",
                field=f"{field}.Key",
                hint=f'did you mean "{guess}"?' if guess else f"use one of: {', '.join(KEYS)}",
            )
        if value is None:
            raise SpecError(
                f"target group attribute {key} has no Value",
                field=f"{field}.Value",
                hint=f'give it as a string, e.g. {{"Key": "{key}", "Value": "..."}}',
            )
        result = _apply(result, key, str(value), f"{field}.Value")
    if result.algorithm == "least_outstanding_requests" and result.slow_start_s:
        raise SpecError(
            "slow start cannot be combined with least_outstanding_requests",
            field=at,
            hint=f"set {SLOW_START} to 0, or {ALGORITHM} to round_robin",
        )
    return result


def _apply(
    current: TargetGroupAttributes, key: str, value: str, field: str
) -> TargetGroupAttributes:
    if key == ALGORITHM:
        if value not in ALGORITHMS:
            hint = f"use {' or '.join(ALGORITHMS)}"
            if value == "weighted_random":
                hint = f"weighted_random is not supported by Dockyard; {hint}"
            raise SpecError(f"{key} cannot be {value}", field=field, hint=hint)
        return replace(current, algorithm=value)
    if key == SLOW_START:
        seconds = _seconds(key, value, field, 0, SLOW_START_RANGE[1])
        if 0 < seconds < SLOW_START_RANGE[0]:
            raise SpecError(
                f"{key} must be 0 (off) or {SLOW_START_RANGE[0]}-{SLOW_START_RANGE[1]}, "
                f"not {seconds}",
                field=field,
                hint=f"use 0 to turn slow start off, or at least {SLOW_START_RANGE[0]}",
            )
        return replace(current, slow_start_s=seconds)
    return replace(
        current, deregistration_delay_s=_seconds(key, value, field, *DEREGISTRATION_DELAY_RANGE)
    )


def _seconds(key: str, value: str, field: str, low: int, high: int) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise SpecError(
            f"{key} must be a whole number of seconds from {low} to {high}, not {value!r}",
            field=field,
            hint=f"give a whole number from {low} to {high}, written as a string "
            f'(e.g. "{high // 10}")',
        )
    return int(value)


def attributes_from_flags(
    algorithm: str | None, slow_start: int | None, deregistration_delay: int | None
) -> list[dict[str, str]]:
    """The ``Attributes`` list that CLI flags ask for (flags not given are left out)."""
    pairs = (
        (ALGORITHM, algorithm),
        (SLOW_START, slow_start),
        (DEREGISTRATION_DELAY, deregistration_delay),
    )
    return [{"Key": key, "Value": str(value)} for key, value in pairs if value is not None]
