"""What Dockyard needs from a load balancer, in ALB terms.

A *route* (an endpoint or a service) has a name clients use and a set of targets
(``host:port`` of healthy replicas). Targets are registered only once their health
check has passed, and deregistered by draining first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

TargetHealth = Literal["healthy", "unhealthy", "draining", "unused"]


@dataclass(frozen=True)
class Target:
    name: str  # stable id of the replica, e.g. the task id
    address: str  # "127.0.0.1:32771"
    health: TargetHealth = "unused"


class LoadBalancer(Protocol):
    def ensure_running(self) -> bool:
        """Start the balancer unless it runs; True when it (re)started without targets."""

    def url_for(self, route: str) -> str: ...
    def ensure_route(self, route: str) -> None: ...
    def remove_route(self, route: str) -> None: ...
    def targets(self, route: str) -> list[Target]: ...
    def register(self, route: str, target: Target) -> None: ...
    def deregister(self, route: str, target_name: str, drain_seconds: float = 5.0) -> None: ...
