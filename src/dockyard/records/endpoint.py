"""A SageMaker endpoint as stored: its Model and EndpointConfig, status and variants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dockyard.control.endpoint import EndpointStatus
from dockyard.records.cluster import ClusterState
from dockyard.spec.endpoint import EndpointConfig, Model


@dataclass(frozen=True)
class VariantRecord:
    """A production variant and the service that runs it."""

    variant_name: str
    service_name: str
    desired: int  # InitialInstanceCount, then DesiredInstanceCount
    startup_timeout_s: float  # ContainerStartupHealthCheckTimeoutInSeconds
    weight: float = 1.0  # InitialVariantWeight, then DesiredWeight
    route: str = ""  # its load-balancer route ("" in records older than splits: the endpoint's)


@dataclass(frozen=True)
class ServiceRollback:
    """What a variant's service ran before an update: the revision and its count."""

    service_name: str
    revision: str
    desired_count: int


@dataclass(frozen=True)
class EndpointRollback:
    """The configuration that served before an update, to go back to if it fails."""

    config: EndpointConfig
    model: Model
    image_id: str
    variants: tuple[VariantRecord, ...]
    services: tuple[ServiceRollback, ...]


@dataclass(frozen=True)
class EndpointRecord:
    """Endpoint + EndpointConfig + Model, as deployed.

    ``status_since`` is when the current Creating/Updating began (startup timeouts
    count from it); ``model`` runs ``image_id``, the image its tag named at deploy time.
    ``rollback`` is what served before the update under way, if anything did.
    """

    KIND: ClassVar[str] = "endpoint"

    name: str
    config: EndpointConfig
    model: Model
    image_id: str
    variants: tuple[VariantRecord, ...]
    status: EndpointStatus
    status_since: float
    created_at: float
    last_modified_at: float
    failure_reason: str | None = None
    rollback: EndpointRollback | None = None  # set while an update may still fail
    cluster: ClusterState | None = None  # set once applied to a cluster (not local)
    #: variants an update removed: they serve until it is over, then drain and go
    retired: tuple[VariantRecord, ...] = ()

    @property
    def key(self) -> str:
        return self.name

    def route_of(self, variant: VariantRecord) -> str:
        return variant.route or self.name

    @property
    def routes(self) -> tuple[str, ...]:
        """Every route of the endpoint: its own and its variants' (retired ones too)."""
        found = [self.name, *(self.route_of(v) for v in (*self.variants, *self.retired))]
        return tuple(dict.fromkeys(found))

    @property
    def owner(self) -> None:
        return None

    @property
    def as_owner(self) -> str:
        """The ``owner`` of the endpoint's services."""
        return endpoint_owner(self.name)

    @property
    def service_names(self) -> tuple[str, ...]:
        """The services of its variants, retired ones included (they still run)."""
        return tuple(v.service_name for v in (*self.variants, *self.retired))

    @property
    def desired_replicas(self) -> int:
        return sum(v.desired for v in self.variants)


def endpoint_owner(name: str) -> str:
    return f"endpoint/{name}"
