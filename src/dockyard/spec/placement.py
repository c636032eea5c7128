"""ECS's placementStrategy and placementConstraints of RunTask and CreateService.

The documents were type-checked against botocore's shapes (``PlacementStrategy``
``{type, field}``, ``PlacementConstraint`` ``{type, expression}``); this reads what
Dockyard acts on and refuses, naming the entry, what it cannot:

- strategies (at most 5, applied in order): ``binpack`` on ``cpu`` or ``memory``,
  ``spread`` on ``instanceId`` (``host``) or ``attribute:NAME``, ``random``;
- constraints (at most 10): ``distinctInstance`` (no expression), ``memberOf`` with an
  expression in the subset of the cluster query language :func:`parse_expression`
  reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from dockyard.errors import SpecError

MAX_STRATEGIES, MAX_CONSTRAINTS = 5, 10

_EXPRESSION = re.compile(
    r"^\s*attribute:(?P<name>[\w.\-]+)\s*(?P<op>==|!=|not in|in)\s*(?P<value>.+?)\s*$"
)


@dataclass(frozen=True)
class PlacementRules:
    """What a request asks of placement: strategies as ``(type, field)`` in order."""

    strategies: tuple[tuple[str, str], ...] = ()
    distinct_instance: bool = False
    member_of: str | None = None


def parse_expression(expression: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``(attribute, operator, values)`` of a memberOf expression, None if unreadable.

    The subset understood: ``attribute:NAME == VALUE``, ``!=``, ``in [A, B]`` and
    ``not in [A, B]``.
    """
    found = _EXPRESSION.match(expression)
    if found is None:
        return None
    op, value = found["op"], found["value"]
    if op in ("in", "not in"):
        if not (value.startswith("[") and value.endswith("]")):
            return None
        values = tuple(v.strip() for v in value[1:-1].split(",") if v.strip())
    else:
        values = (value,)
    return found["name"], op, values


def parse_placement(strategies: Any, constraints: Any) -> PlacementRules:
    """Read ``placementStrategy`` and ``placementConstraints`` (None: not given)."""
    chosen: list[tuple[str, str]] = []
    items = cast(Sequence[Mapping[str, Any]], strategies or ())
    if len(items) > MAX_STRATEGIES:
        raise SpecError(
            f"{len(items)} placement strategies; ECS allows {MAX_STRATEGIES}",
            field="placementStrategy",
            hint="keep the strategies that matter most, first",
        )
    for index, item in enumerate(items):
        chosen.append(_strategy(item, f"placementStrategy[{index}]"))
    distinct, member_of = False, None
    items = cast(Sequence[Mapping[str, Any]], constraints or ())
    if len(items) > MAX_CONSTRAINTS:
        raise SpecError(
            f"{len(items)} placement constraints; ECS allows {MAX_CONSTRAINTS}",
            field="placementConstraints",
            hint="combine memberOf expressions",
        )
    for index, item in enumerate(items):
        at = f"placementConstraints[{index}]"
        kind, expression = item.get("type"), item.get("expression")
        if kind == "distinctInstance":
            if expression:
                raise SpecError(
                    "distinctInstance takes no expression",
                    field=f"{at}.expression",
                    hint="remove the expression, or use memberOf",
                )
            distinct = True
        elif kind == "memberOf":
            if not expression or parse_expression(str(expression)) is None:
                raise SpecError(
                    f"cannot read the memberOf expression {expression!r}",
                    field=f"{at}.expression",
                    hint='write "attribute:NAME == VALUE" (or !=, in [A, B], not in [A, B]), '
                    'e.g. "attribute:ecs.availability-zone == local-a"',
                )
            if member_of is not None:
                raise SpecError(
                    "more than one memberOf constraint",
                    field=f"{at}.expression",
                    hint="Dockyard reads one memberOf expression: combine them with in [...]",
                )
            member_of = str(expression)
        else:
            raise SpecError(
                f"placement constraint type {kind} is unknown",
                field=f"{at}.type",
                hint="use distinctInstance or memberOf",
            )
    return PlacementRules(tuple(chosen), distinct, member_of)


def _strategy(item: Mapping[str, Any], at: str) -> tuple[str, str]:
    kind, field = item.get("type"), str(item.get("field") or "")
    if kind == "random":
        return ("random", "")
    if kind == "binpack":
        if field.lower() not in ("cpu", "memory"):
            raise SpecError(
                f"binpack cannot pack on {field or 'nothing'}",
                field=f"{at}.field",
                hint='use "cpu" or "memory"',
            )
        return ("binpack", field.lower())
    if kind == "spread":
        if field.lower() in ("instanceid", "host"):
            return ("spread", "instanceId")
        if field.startswith("attribute:") and len(field) > len("attribute:"):
            return ("spread", field)
        raise SpecError(
            f"spread cannot spread on {field or 'nothing'}",
            field=f"{at}.field",
            hint='use "instanceId" or "attribute:ecs.availability-zone"',
        )
    raise SpecError(
        f"placement strategy type {kind} is unknown",
        field=f"{at}.type",
        hint="use binpack, spread or random",
    )


def request_placement(strategies: Any, constraints: Any, launch_type: str | None) -> PlacementRules:
    """:func:`parse_placement` of a RunTask or CreateService request; refused for
    FARGATE, which has no instances to choose from (ECS refuses it too)."""
    if launch_type == "FARGATE" and (strategies or constraints):
        field = "placementStrategy" if strategies else "placementConstraints"
        raise SpecError(
            f"{field} is not supported with launch type FARGATE",
            field=field,
            hint="Fargate has no instances to choose from: remove it, or use EC2",
        )
    return parse_placement(strategies, constraints)
