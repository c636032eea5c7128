"""Production variants on the load balancer: each variant's route, and the traffic split.

Every variant runs as its own service on its own route, so that the balancer counts
and times each variant apart and can pick a variant per request by weight (SageMaker
splits an endpoint's traffic over its variants by weight, then over a variant's
instances). The endpoint's own route (its name, the URL clients call) is *split* over
the variants' routes.

Routes are sticky: a variant keeps the route it has across updates, so its service and
replicas never move. The first variant of a new endpoint serves on the endpoint's own
route (a one-variant endpoint looks as it always did); a variant added later gets
``ENDPOINT-VARIANT``, its service's name.

The split follows what serves: an update's new variant gets its weight only once a
replica of it takes traffic, and a variant the update removes (*retired*) keeps its
weight until the endpoint is InService again, then gets none before its replicas are
drained. So an update never sends a request to a variant with nothing to answer it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def variant_routes(
    endpoint_name: str, variant_names: Sequence[str], held: Mapping[str, str]
) -> dict[str, str]:
    """Each variant's route: the one it ``held`` already, else the endpoint's own route if
    no variant holds it, else ``ENDPOINT-VARIANT``."""
    taken = set(held.values())
    routes: dict[str, str] = {}
    for name in variant_names:
        if name in held:
            routes[name] = held[name]
        elif endpoint_name not in taken:
            routes[name] = endpoint_name
            taken.add(endpoint_name)
        else:
            routes[name] = f"{endpoint_name}-{name}"
    return routes


@dataclass(frozen=True)
class VariantTraffic:
    """A variant as the split sees it: its weight now and whether a replica serves it."""

    name: str
    route: str
    weight: float
    serving: bool  # some replica is registered on its route
    retired: bool = False  # removed by the update under way; still serving until it ends


@dataclass(frozen=True)
class VariantShare:
    """What the balancer gets for one variant (see :class:`dockyard.ports.lb.Share`)."""

    name: str
    route: str
    weight: float
    pinnable: bool = True


def traffic_shares(
    variants: Sequence[VariantTraffic], *, settled: bool
) -> tuple[VariantShare, ...]:
    """The split of an endpoint's traffic over its variants now.

    Current variants can always be pinned; each draws its weight once it serves.
    Retired variants draw theirs while the update is under way (``settled`` False) and
    are dropped once it is over. When nothing weighted serves yet (a new endpoint), the
    current variants draw their configured weights: a request then meets the
    balancer's own "no target" answer rather than a variant it was never meant for.
    """
    active = [v for v in variants if not (v.retired and settled)]
    serving = any(v.serving and v.weight > 0 for v in active)
    shares = []
    for variant in active:
        draws = variant.serving or not (serving or variant.retired)
        weight = variant.weight if draws else 0.0
        if variant.retired and weight == 0:
            continue
        shares.append(VariantShare(variant.name, variant.route, weight, not variant.retired))
    return tuple(shares)
