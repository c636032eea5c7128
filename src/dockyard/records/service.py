"""A service as stored: the scheduler's desired state plus how its tasks are placed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dockyard.control.service import ServiceState
from dockyard.records.placement import Placement


@dataclass(frozen=True)
class LbTarget:
    """Which container port of a task the load balancer sends traffic to."""

    container: str
    port: int


@dataclass(frozen=True)
class ServiceRecord:
    """Keep ``state.desired_count`` ready tasks of ``state.revision``.

    ``owner`` is the resource that made the service (``endpoint/NAME`` for a variant),
    ``None`` for a service a user created.
    """

    KIND: ClassVar[str] = "service"

    state: ServiceState
    placement: Placement
    target: LbTarget | None = None
    owner: str | None = None

    @property
    def key(self) -> str:
        return self.state.name

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def tasks_owner(self) -> str:
        """The ``owner`` of this service's tasks (ECS's ``startedBy``)."""
        return service_tasks_owner(self.state.name)


def service_tasks_owner(name: str) -> str:
    return f"service/{name}"
