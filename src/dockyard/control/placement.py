"""Where an EC2-launch-type task runs (pure): container instances, reserved capacity,
placement strategies and constraints, and ECS's words when nothing fits.

A container instance is an engine host with the CPU (units, 1024 per core) and memory
(MiB) it reported when registered. What a task reserves is its task-level cpu/memory
(else the sum of its containers'); an instance's free capacity is its registered
capacity less what its running EC2 tasks reserve. FARGATE tasks are never placed:
there are no hosts to manage.

:func:`place` filters the instances that fit (and satisfy ``distinctInstance``), then
orders them by the strategies in turn (each one breaks the ties of the one before,
as ECS applies a list of strategies): ``binpack`` on cpu or memory picks the instance
with the least of it left, ``spread`` on ``instanceId`` the one running the fewest
tasks of the same group, ``spread`` on ``attribute:NAME`` an instance whose value of
that attribute (``ecs.availability-zone``) has the fewest tasks of the group, and
``random`` an order drawn from the request's ``seed``. With no strategy the lowest
instance id wins, so the result is reproducible. A ``memberOf`` constraint keeps the
instances its expression matches (:func:`matches`). When none fits,
:class:`Unplaceable` names the closest instance and what it lacks, as ECS does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from dockyard.spec.placement import parse_expression
from dockyard.spec.task_definition import TaskDefinition


class Resource(StrEnum):
    CPU = "cpu"
    MEMORY = "memory"


@dataclass(frozen=True)
class Instance:
    """A registered container instance and its reported capacity."""

    instance_id: str
    cpu: int  # CPU units
    memory: int  # MiB
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PlacedTask:
    """A running EC2 task as placement sees it: where, how big, of which group."""

    instance_id: str
    cpu: int
    memory: int
    group: str  # service:NAME or family:NAME


@dataclass(frozen=True)
class Strategy:
    """``binpack`` (field cpu|memory), ``spread`` (field instanceId or
    ``attribute:NAME``) or ``random`` (no field)."""

    type: str
    field: str = ""


@dataclass(frozen=True)
class Request:
    cpu: int
    memory: int
    group: str
    strategies: Sequence[Strategy] = ()
    distinct_instance: bool = False
    member_of: str | None = None  # a memberOf expression (see :func:`matches`)
    seed: int = 0  # draws the ``random`` strategy's order


@dataclass(frozen=True)
class Placed:
    instance_id: str


@dataclass(frozen=True)
class Unplaceable:
    """``reason``: RunTask's failure reason (``RESOURCE:MEMORY``, ``RESOURCE:CPU``,
    ``DistinctInstance``); ``closest`` the instance that came nearest, if any."""

    reason: str
    closest: str | None
    lacks: str  # "memory", "cpu", "distinctInstance placement constraint", "" (no instance)


Outcome = Placed | Unplaceable


def reservation(definition: TaskDefinition) -> tuple[int, int]:
    """(cpu units, memory MiB) a task reserves on its instance: the task-level values,
    else the sum of its containers' (``memory``, else ``memoryReservation``)."""
    containers = definition.container_definitions
    cpu = definition.cpu_units or sum(c.cpu for c in containers)
    memory = definition.memory_mib or sum(c.memory or c.memory_reservation or 0 for c in containers)
    return cpu, memory


def reserved(tasks: Iterable[PlacedTask]) -> dict[str, tuple[int, int]]:
    """(cpu, memory) reserved on each instance by its running tasks."""
    totals: dict[str, tuple[int, int]] = {}
    for task in tasks:
        cpu, memory = totals.get(task.instance_id, (0, 0))
        totals[task.instance_id] = (cpu + task.cpu, memory + task.memory)
    return totals


def place(request: Request, instances: Sequence[Instance], tasks: Sequence[PlacedTask]) -> Outcome:
    """The instance a task goes to, or why none can take it."""
    if not instances:
        return Unplaceable("RESOURCE:MEMORY", None, "")
    if request.member_of is not None:
        members = [i for i in instances if matches(request.member_of, i)]
        if not members:
            closest = min(i.instance_id for i in instances)
            return Unplaceable("MemberOf", closest, "memberOf placement constraint")
        instances = members
    used = reserved(tasks)
    free = {
        i.instance_id: (
            i.cpu - used.get(i.instance_id, (0, 0))[0],
            i.memory - used.get(i.instance_id, (0, 0))[1],
        )
        for i in instances
    }
    grouped = {i.instance_id: 0 for i in instances}
    for task in tasks:
        if task.group == request.group and task.instance_id in grouped:
            grouped[task.instance_id] += 1
    attributes = {i.instance_id: i.attributes for i in instances}
    fits = [
        i
        for i in instances
        if free[i.instance_id][0] >= request.cpu
        and free[i.instance_id][1] >= request.memory
        and not (request.distinct_instance and grouped[i.instance_id] > 0)
    ]
    if not fits:
        return _closest(request, instances, free, grouped)

    def order(instance: Instance) -> tuple[int, ...]:
        cpu_left, memory_left = free[instance.instance_id]
        keys: list[int] = []
        for strategy in request.strategies:
            if strategy.type == "binpack":
                keys.append(memory_left if strategy.field == Resource.MEMORY else cpu_left)
            elif strategy.type == "spread" and strategy.field.startswith("attribute:"):
                name = strategy.field.removeprefix("attribute:")
                value = instance.attributes.get(name)
                keys.append(sum(n for i, n in grouped.items() if attributes[i].get(name) == value))
            elif strategy.type == "spread":
                keys.append(grouped[instance.instance_id])
            elif strategy.type == "random":
                digest = hashlib.sha256(f"{request.seed}/{instance.instance_id}".encode())
                keys.append(int.from_bytes(digest.digest()[:8], "big"))
        return tuple(keys)

    best = min(sorted(fits, key=lambda i: i.instance_id), key=order)
    return Placed(best.instance_id)


def matches(expression: str, instance: Instance) -> bool:
    """Whether ``instance`` satisfies the memberOf ``expression`` (unreadable: no)."""
    parsed = parse_expression(expression)
    if parsed is None:
        return False
    name, op, values = parsed
    present = instance.attributes.get(name)
    inside = present is not None and present in values
    return inside if op in ("==", "in") else not inside


def _closest(
    request: Request,
    instances: Sequence[Instance],
    free: dict[str, tuple[int, int]],
    grouped: dict[str, int],
) -> Unplaceable:
    """The instance that lacks the least, and what it lacks (memory before cpu)."""

    def shortfall(instance: Instance) -> tuple[int, int, str]:
        cpu_left, memory_left = free[instance.instance_id]
        missing_memory = max(0, request.memory - memory_left)
        missing_cpu = max(0, request.cpu - cpu_left)
        return (missing_memory, missing_cpu, instance.instance_id)

    closest = min(instances, key=shortfall)
    missing_memory, missing_cpu, _ = shortfall(closest)
    if missing_memory:
        return Unplaceable("RESOURCE:MEMORY", closest.instance_id, "memory")
    if missing_cpu:
        return Unplaceable("RESOURCE:CPU", closest.instance_id, "cpu")
    return Unplaceable(
        "DistinctInstance", closest.instance_id, "distinctInstance placement constraint"
    )


def unable_to_place(service: str, outcome: Unplaceable) -> str:
    """The service event, in ECS's words."""
    text = (
        f"service {service} was unable to place a task because no container instance met "
        "all of its requirements."
    )
    if outcome.closest is None:
        return text + " Reason: No Container Instances were found in your cluster."
    if outcome.lacks in ("memory", "cpu"):
        return (
            f"{text} The closest matching container-instance {outcome.closest} has "
            f"insufficient {outcome.lacks} available."
        )
    return (
        f"{text} The closest matching container-instance {outcome.closest} encountered "
        f'error "{outcome.reason} placement constraint unsatisfied."'
    )
