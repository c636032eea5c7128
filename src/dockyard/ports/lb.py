"""What Dockyard needs from a load balancer, in ALB terms.

A *route* (an endpoint or a service) has a name clients use and a set of targets
(``host:port`` of replicas). Every call returns at once: the control plane never
waits on the balancer. What takes time (in-flight requests finishing on a draining
target, idle connections closing before removal) is *observed* on a later pass
through :meth:`LoadBalancer.targets`, and the next step is taken then.

Which replicas are targets is decided by the control plane (a replica is
registered once its own health record says healthy, see
:mod:`dockyard.control.health`); a balancer may also check targets itself, but only
to steer requests between two passes, never to decide membership.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

TargetHealth = Literal["healthy", "unhealthy", "draining", "unused"]
#: ALB's ``load_balancing.algorithm.type`` values a balancer implements
Algorithm = Literal["round_robin", "least_outstanding_requests"]


@dataclass(frozen=True)
class RouteSettings:
    """How a route spreads requests over its targets (ALB target-group attributes).

    ``algorithm``: ``round_robin`` sends each new request to the next target in turn;
    ``least_outstanding_requests`` to the target with the fewest requests in flight.
    ``slow_start_s`` (0: off): a target registered while the route already has a
    healthy target that is not warming up itself receives a share of requests that
    grows linearly to its full share over this many seconds. The default suits model
    servers (least outstanding requests, see :mod:`dockyard.adapters.lb.config`);
    ECS services pass their target group's attributes, whose default is ALB's.
    """

    algorithm: Algorithm = "least_outstanding_requests"
    slow_start_s: int = 0


@dataclass(frozen=True)
class Target:
    name: str  # stable id of the replica, e.g. the task id
    address: str  # "127.0.0.1:32771"
    health: TargetHealth = "unused"
    in_flight: int = 0  # requests (connections in use) towards the target now


@dataclass(frozen=True)
class Share:
    """One production variant of a split route: its name, the route that serves it, and
    its weight (relative to the other shares; 0: only requests that pin it reach it).

    ``pinnable`` is False for a variant that still serves while an update replaces it:
    it keeps its weight, but a caller cannot name it any more.
    """

    name: str
    route: str
    weight: float
    pinnable: bool = True


@dataclass(frozen=True)
class RouteTraffic:
    """A route's counters since the balancer started (a restart sets them to zero)."""

    route: str
    requests: int
    responses_4xx: int
    responses_5xx: int
    in_flight: int


@dataclass(frozen=True)
class ResponseTime:
    """How long one answered request of ``route`` took inside the balancer, in ms."""

    route: str
    status: int
    ms: float


class LoadBalancer(Protocol):
    def ensure_running(self) -> bool:
        """Start the balancer unless it runs; True when it (re)started without targets."""

    def url_for(self, route: str) -> str: ...
    def ensure_route(
        self, route: str, settings: RouteSettings | None = None, *, affinity: bool = False
    ) -> None:
        """Create the route if new; apply ``settings`` (None: keep the route's settings,
        the defaults for a new route). New settings apply to requests from now on;
        ``slow_start_s`` to targets registered from now on. ``affinity``: requests with
        the same ``X-Amzn-SageMaker-Target-Model`` go to the same target (multi-model
        endpoints), whatever the settings."""

    def remove_route(self, route: str) -> None: ...

    def split(self, route: str, shares: Sequence[Share]) -> None:
        """Send ``route``'s requests to the shares' routes, each picked by weight per
        request, or the one a request names in ``X-Amzn-SageMaker-Target-Variant``
        (unknown name: 400); the answer says which in ``X-Amzn-Invoked-Production-Variant``.
        No shares: the route serves its own targets again. Same shares again: no-op."""

    def targets(self, route: str) -> list[Target]:
        """The route's targets as the balancer holds them now (empty for an unknown route)."""

    def register(self, route: str, target: Target) -> None:
        """Make ``target`` take the route's traffic now (same name, new address: replaced)."""

    def drain(self, route: str, target_name: str) -> None:
        """Send no new request to the target; requests in flight finish. Unknown: no-op."""

    def traffic(self) -> list[RouteTraffic]:
        """Counters of every route."""

    def response_times(self) -> list[ResponseTime]:
        """Requests answered since the previous call, each once (when more came than
        the balancer keeps, the newest of them: a sample)."""

    def remove(self, route: str, target_name: str) -> bool:
        """Take the target out for good, cutting what is still in flight.

        False when the balancer could not finish yet (connections still closing): call
        again on a later pass. Unknown target or route: True.
        """
