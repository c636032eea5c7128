"""A task as stored: control's :class:`Task` plus what the server needs to act on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from dockyard.control.health import CheckHistory
from dockyard.control.task import Task
from dockyard.records.cluster import ClusterState
from dockyard.records.placement import Placement
from dockyard.spec.task_definition import TaskDefinition


@dataclass(frozen=True)
class PortAddress:
    """Where a container port of a running task answers on this machine."""

    container: str
    port: int
    address: str  # "host:port"


@dataclass(frozen=True)
class ReplicaState:
    """What the control plane knows of a task as a load-balanced replica.

    ``health`` is the one health truth (see :mod:`dockyard.control.health`);
    ``drain_started_at`` is set when the task was asked to leave the load balancer,
    so the next passes know how long it has drained.
    """

    health: CheckHistory = field(default_factory=CheckHistory)
    drain_started_at: float | None = None


@dataclass(frozen=True)
class TaskRecord:
    """One task and everything needed to finish starting or stopping it after a restart.

    ``definition`` and ``placement`` travel with the task, so the daemon never has to
    look anything else up to act on it. ``start_errors`` holds the engine's refusal to
    create a container (by container name); the next observation reports it, so
    control decides (TaskFailedToStart), not the server.
    """

    KIND: ClassVar[str] = "task"

    task: Task
    owner: str  # "service/NAME", "training-job/NAME", …: who started it, who reaps it
    definition: TaskDefinition
    placement: Placement
    start_errors: Mapping[str, str] = field(default_factory=dict)
    addresses: tuple[PortAddress, ...] = ()
    replica: ReplicaState = field(default_factory=ReplicaState)
    cluster: ClusterState | None = None  # set once applied to a cluster (not local)

    @property
    def key(self) -> str:
        return self.task.task_id

    def address(self, container: str, port: int) -> str | None:
        """Where ``container``'s ``port`` answers on this machine, while it runs."""
        for item in self.addresses:
            if item.container == container and item.port == port:
                return item.address
        return None
