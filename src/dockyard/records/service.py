"""A service as stored: the scheduler's desired state plus how its tasks are placed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from dockyard.control.deployments import Deployment, ServiceStatus
from dockyard.control.service import ServiceState
from dockyard.records.cluster import ClusterState
from dockyard.records.placement import Placement
from dockyard.spec.service import ServiceSpec
from dockyard.spec.target_group import TargetGroupAttributes


@dataclass(frozen=True)
class LbTarget:
    """Which container port of a task the load balancer sends traffic to."""

    container: str
    port: int


@dataclass(frozen=True)
class EcsService:
    """What an ECS service a user created keeps beyond the scheduler's state.

    ``spec`` is the CreateService request as validated, kept up to date by
    UpdateService (DescribeServices echoes it); ``deployments`` oldest first, the last
    one PRIMARY; ``status`` DRAINING once deleted, until its last task is gone;
    ``target_group_attributes`` those of its load balancer's target group (ELB's
    ModifyTargetGroupAttributes), kept with the service whose route it is.
    """

    spec: ServiceSpec
    created_at: float
    deployments: tuple[Deployment, ...] = ()
    status: ServiceStatus = ServiceStatus.ACTIVE
    target_group_attributes: TargetGroupAttributes = field(default_factory=TargetGroupAttributes)


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
    ecs: EcsService | None = None  # only services a user created (owner None) have one
    cluster: ClusterState | None = None  # set once applied to a cluster (not local)

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
