"""A load balancer in memory, for tests of the register → drain → remove sequence.

It implements :class:`dockyard.ports.lb.LoadBalancer` as the protocol describes it:
every call takes effect at once, and what takes time on a real balancer is made to
take time by the test instead. :meth:`FakeLoadBalancer.set_in_flight` shows requests
still running on a target (the control plane reads them through ``targets`` and
decides when to remove), :meth:`FakeLoadBalancer.hold_removal` makes ``remove``
answer False as HAProxy does while connections close, and
:meth:`FakeLoadBalancer.restart` loses the targets as a restarted HAProxy does.

Route names and target addresses are checked with the HAProxy adapter's own rules,
so a name the real balancer would refuse is refused here too.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from dockyard.adapters.lb.naming import check_address, check_route
from dockyard.ports.lb import (
    ResponseTime,
    RouteSettings,
    RouteTraffic,
    Share,
    Target,
    TargetHealth,
)


class FakeLoadBalancer:
    """:class:`dockyard.ports.lb.LoadBalancer` in memory.

    A registered target is ``healthy`` at once (the control plane registers only
    replicas it has seen pass their checks); a drained one, or one whose removal is
    held, is ``draining``. The
    balancer counts as started on the first :meth:`ensure_running`, which returns
    True then, and again once after each :meth:`restart`. Calls made before that
    work as if it ran.

    Test controls: :meth:`serve`, :meth:`set_in_flight`, :meth:`set_health`, :meth:`hold_removal`,
    :meth:`release_removal`, :meth:`restart`, :meth:`routes`, and :attr:`calls`
    (port method → times called).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 9080) -> None:
        self.host = host
        self.port = port
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._routes: dict[str, dict[str, Target]] = {}
        #: routes made with ``affinity`` (hashed on the target model header)
        self.affinity_routes: set[str] = set()
        self._held: set[tuple[str, str]] = set()
        self._running = False
        self._traffic: dict[str, RouteTraffic] = {}
        self._answered: list[ResponseTime] = []
        #: the settings last given for each route (what ``ensure_route`` applied)
        self.settings: dict[str, RouteSettings] = {}
        self._splits: dict[str, tuple[Share, ...]] = {}

    # ------------------------------------------------------------------ test controls

    def set_in_flight(self, route: str, target_name: str, in_flight: int) -> None:
        """Report ``in_flight`` requests on the target (a draining one included).

        Only reported: ``remove`` still succeeds, cutting them, as the protocol says.
        """
        with self._lock:
            target = self._target(route, target_name)
            self._routes[route][target_name] = replace(target, in_flight=in_flight)

    def serve(self, route: str, status: int = 200, ms: float = 1.0, count: int = 1) -> None:
        """Count ``count`` requests of ``route`` answered with ``status`` in ``ms``."""
        with self._lock:
            before = self._traffic.get(route, RouteTraffic(route, 0, 0, 0, 0))
            self._traffic[route] = replace(
                before,
                requests=before.requests + count,
                responses_4xx=before.responses_4xx + (count if 400 <= status < 500 else 0),
                responses_5xx=before.responses_5xx + (count if status >= 500 else 0),
            )
            self._answered.extend(ResponseTime(route, status, ms) for _ in range(count))

    def set_health(self, route: str, target_name: str, health: TargetHealth) -> None:
        """What the balancer's own checks say of the target (e.g. ``unhealthy``)."""
        with self._lock:
            target = self._target(route, target_name)
            self._routes[route][target_name] = replace(target, health=health)

    def hold_removal(self, route: str, target_name: str) -> None:
        """``remove`` answers False (connections still closing) until released.

        Meanwhile the target stays, ``draining``: out of service, as HAProxy leaves it.
        """
        with self._lock:
            self._held.add((route, target_name))

    def release_removal(self, route: str, target_name: str) -> None:
        with self._lock:
            self._held.discard((route, target_name))

    def restart(self) -> None:
        """The balancer died and will be started again: routes kept, every target lost.

        The next :meth:`ensure_running` returns True, telling the caller to register
        the targets again.
        """
        with self._lock:
            self._traffic.clear()
            for targets in self._routes.values():
                targets.clear()
            self._running = False

    def splits(self) -> dict[str, tuple[Share, ...]]:
        """Every split route's shares, as last set (not counted in :attr:`calls`)."""
        with self._lock:
            return dict(self._splits)

    def routes(self) -> list[str]:
        """Every route, sorted (not counted in :attr:`calls`)."""
        with self._lock:
            return sorted(self._routes)

    # ------------------------------------------------------------------ the port

    def ensure_running(self) -> bool:
        with self._lock:
            self.calls["ensure_running"] += 1
            started = not self._running
            self._running = True
            return started

    def url_for(self, route: str) -> str:
        """Where clients call the route, in the HAProxy adapter's form."""
        self._count("url_for")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/endpoints/{check_route(route)}/invocations"

    def ensure_route(
        self, route: str, settings: RouteSettings | None = None, *, affinity: bool = False
    ) -> None:
        with self._lock:
            self.calls["ensure_route"] += 1
            self._routes.setdefault(check_route(route), {})
            if affinity:
                self.affinity_routes.add(route)
            if settings is not None:
                self.settings[route] = settings

    def remove_route(self, route: str) -> None:
        """Forget the route and its targets at once (what is in flight is cut)."""
        with self._lock:
            self.calls["remove_route"] += 1
            self._routes.pop(check_route(route), None)
            self._splits.pop(route, None)

    def split(self, route: str, shares: Sequence[Share]) -> None:
        with self._lock:
            self.calls["split"] += 1
            for share in shares:
                check_route(share.route)
            if shares:
                self._splits[check_route(route)] = tuple(shares)
            else:
                self._splits.pop(check_route(route), None)

    def targets(self, route: str) -> list[Target]:
        with self._lock:
            self.calls["targets"] += 1
            return list(self._routes.get(check_route(route), {}).values())

    def register(self, route: str, target: Target) -> None:
        """In service at once, as the HAProxy adapter puts it.

        New, or at a new address: ``healthy``, nothing in flight. Same address: kept
        as it is (its health and requests), only back in service if it was draining.
        """
        address = check_address(target.address)
        with self._lock:
            self.calls["register"] += 1
            targets = self._routes.setdefault(check_route(route), {})
            current = targets.get(target.name)
            if current is None or current.address != address:
                targets[target.name] = Target(target.name, address, "healthy")
            elif current.health == "draining":
                targets[target.name] = replace(current, health="healthy")

    def drain(self, route: str, target_name: str) -> None:
        with self._lock:
            self.calls["drain"] += 1
            target = self._routes.get(check_route(route), {}).get(target_name)
            if target is not None:
                self._routes[route][target_name] = replace(target, health="draining")

    def traffic(self) -> list[RouteTraffic]:
        with self._lock:
            self.calls["traffic"] += 1
            return [self._traffic.get(r, RouteTraffic(r, 0, 0, 0, 0)) for r in sorted(self._routes)]

    def response_times(self) -> list[ResponseTime]:
        with self._lock:
            self.calls["response_times"] += 1
            answered, self._answered = self._answered, []
        return answered

    def remove(self, route: str, target_name: str) -> bool:
        with self._lock:
            self.calls["remove"] += 1
            targets = self._routes.get(check_route(route), {})
            if target_name in targets and (route, target_name) in self._held:
                # Out of service, as HAProxy leaves a server it could not delete yet.
                targets[target_name] = replace(targets[target_name], health="draining")
                return False
            targets.pop(target_name, None)
            return True

    # ------------------------------------------------------------------ internals

    def _count(self, method: str) -> None:
        with self._lock:
            self.calls[method] += 1

    def _target(self, route: str, target_name: str) -> Target:
        """The target a test control acts on; a test naming none is a mistake in the test."""
        target = self._routes.get(route, {}).get(target_name)
        if target is None:
            raise LookupError(f"no target {target_name!r} on route {route!r}")
        return target
