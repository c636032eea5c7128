"""A task's CPU and memory, as ECS enforces them on Linux.

ECS gives each container ``cpu`` as CPU *shares* (a relative weight under contention,
never a cap), ``memory`` as a hard limit (the container is OOM-killed above it) and
``memoryReservation`` as a soft limit (reclaimed first under pressure); the task-level
``cpu``/``memory`` (Fargate's size) is a hard limit on the task *as a whole*, which
the ECS agent enforces with a cgroup per task that holds every container of it.

Dockyard does the same where the engine lets it make such a cgroup
(:meth:`~dockyard.ports.engine.Engine.task_cgroup`). Where it cannot (a remote engine,
systemd-managed cgroups), the task size still bounds each container on its own: a
container without its own ``memory`` gets the task's as its hard limit, and every
container gets the task's ``cpu`` as a CPU quota. That never lets a task use more
than its size per container, but containers together may.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.spec.container import ContainerDefinition
from dockyard.spec.task_definition import TaskDefinition
from dockyard.spec.task_size import CPU_UNITS_PER_VCPU

#: the kernel's smallest weight; Docker raises anything lower to it
MIN_CPU_SHARES = 2


@dataclass(frozen=True)
class TaskSize:
    """What the task as a whole may use (None: unbounded)."""

    cpus: float | None
    memory_mib: int | None

    @property
    def bounded(self) -> bool:
        return self.cpus is not None or self.memory_mib is not None


@dataclass(frozen=True)
class ContainerLimits:
    """What one container is given: engine-neutral numbers."""

    cpu_shares: int | None = None
    cpus: float | None = None  # a hard CPU quota, in cores
    memory_mib: int | None = None  # hard
    memory_reservation_mib: int | None = None  # soft


def task_size(definition: TaskDefinition) -> TaskSize:
    units = definition.cpu_units
    return TaskSize(units / CPU_UNITS_PER_VCPU if units else None, definition.memory_mib)


def container_limits(
    definition: TaskDefinition, container: ContainerDefinition, *, task_cgroup: bool
) -> ContainerLimits:
    """The container's limits; ``task_cgroup``: the task's size is enforced as a whole."""
    size = task_size(definition)
    memory = container.memory
    cpus = None
    if not task_cgroup:
        memory = memory if memory is not None else size.memory_mib
        cpus = size.cpus
    return ContainerLimits(
        cpu_shares=max(container.cpu, MIN_CPU_SHARES) if container.cpu else None,
        cpus=cpus,
        memory_mib=memory,
        memory_reservation_mib=container.memory_reservation,
    )
