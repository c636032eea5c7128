"""`dockyard endpoint NAME` (describe) and `dockyard endpoint update-weights`: variants.

``endpoint`` is a group whose first word is either a subcommand or an endpoint name, so
``dockyard endpoint iris`` keeps describing the endpoint while
``dockyard endpoint update-weights iris a=0.8 b=0.2`` changes its variants.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from dockyard.cli.context import api
from dockyard.cli.endpoint_cmd import endpoint as describe_endpoint
from dockyard.cli.output import console, table
from dockyard.errors import SpecError

DESCRIBE = "show"


class _NameOrCommand(TyperGroup):
    """``endpoint NAME`` is ``endpoint show NAME``; known subcommands run as such."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click Context
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = [DESCRIBE, *args]
        return super().parse_args(ctx, args)


endpoint_app = typer.Typer(
    cls=_NameOrCommand,
    help="Describe an endpoint (`dockyard endpoint NAME`) or change its variants.",
    no_args_is_help=True,
)
endpoint_app.command(DESCRIBE, hidden=True)(describe_endpoint)


def _pairs(items: list[str], option: str, kind: type[float] | type[int]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError(item)
            found[name] = kind(value)
        except ValueError:
            raise SpecError(
                f"{item!r} is not VARIANT=NUMBER",
                field=option,
                hint="e.g. A=0.8 B=0.2" if kind is float else "e.g. --capacity B=3",
            ) from None
    return found


@endpoint_app.command("update-weights")
def update_weights(
    name: str = typer.Argument(..., help="Endpoint name."),
    weights: list[str] = typer.Argument(None, help="VARIANT=WEIGHT, e.g. A=0.8 B=0.2."),
    capacity: list[str] = typer.Option(
        [], "--capacity", help="VARIANT=COUNT: the variant's instance count (repeatable)."
    ),
) -> None:
    """Change variants' traffic weights (at once, no replica restarts) and instance counts
    (UpdateEndpointWeightsAndCapacities)."""
    desired: dict[str, dict[str, Any]] = {}
    for variant, weight in _pairs(weights or [], "WEIGHTS", float).items():
        desired.setdefault(variant, {"VariantName": variant})["DesiredWeight"] = weight
    for variant, count in _pairs(capacity, "--capacity", int).items():
        desired.setdefault(variant, {"VariantName": variant})["DesiredInstanceCount"] = count
    if not desired:
        raise SpecError(
            "nothing to change",
            field="WEIGHTS",
            hint="give VARIANT=WEIGHT pairs and/or --capacity VARIANT=COUNT",
        )
    answer = api().request(
        "POST",
        f"/v1/endpoints/{name}/weights-and-capacities",
        json={"DesiredWeightsAndCapacities": list(desired.values())},
    )
    table(
        name,
        ["variant", "weight", "instances"],
        (
            [v["VariantName"], f"{v['DesiredWeight']:g}", str(v["DesiredInstanceCount"])]
            for v in answer["ProductionVariants"]
        ),
    )
    console.print("[green]✓[/] weights take effect now; instance counts as replicas start or drain")
