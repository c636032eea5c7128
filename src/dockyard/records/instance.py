"""A container instance as stored: an engine host that EC2-launch-type tasks run on.

ECS's container instance is an EC2 host whose agent registered its CPU and memory;
Dockyard's is a container engine reached at ``engine_url`` (the local engine is
registered by default). ``cpu`` (units, 1024 per core) and ``memory`` (MiB) are what it
offers to tasks: what the engine reported, or less when the user registered less.
DRAINING: no new task is placed on it, and services move their tasks away; INACTIVE:
deregistered (kept so the default instance is not registered again on the next start).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar


class InstanceStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DRAINING = "DRAINING"
    INACTIVE = "INACTIVE"


@dataclass(frozen=True)
class ContainerInstanceRecord:
    KIND: ClassVar[str] = "container-instance"

    instance_id: str
    engine_url: str
    cpu: int
    memory: int
    registered_at: float
    status: InstanceStatus = InstanceStatus.ACTIVE
    #: ECS's attributes (``ecs.availability-zone``, ``ecs.os-type``...)
    attributes: Mapping[str, str] = field(default_factory=dict)
    #: the engine host's address as this host reaches it (an EC2 instance's private
    #: IP): its tasks' ports are published there and the balancer targets them there.
    #: None: the engine is this host's (ports on the loopback, or containers reached
    #: on their own addresses)
    address: str | None = None

    @property
    def key(self) -> str:
        return self.instance_id

    @property
    def owner(self) -> None:
        return None
