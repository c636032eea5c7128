"""Rules of a task definition that relate its parts to each other.

Each rule raises :class:`~dockyard.spec.errors.SpecValueError` located from the task
definition's root (``containerDefinitions[1].dependsOn[0].containerName``). Sources:
botocore's documentation of ``RegisterTaskDefinitionRequest`` and
``ContainerDefinition`` (essential containers, memory, Fargate sizes and stop timeout,
host ports in awsvpc/host mode) and the ECS developer guide (dependsOn conditions).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from dockyard.spec.errors import SpecValueError, did_you_mean
from dockyard.spec.task_size import check_fargate_size

if TYPE_CHECKING:
    from dockyard.spec.container import ContainerDefinition
    from dockyard.spec.task_definition import TaskDefinition

CONTAINERS = "containerDefinitions"
FARGATE_MAX_STOP_TIMEOUT_S = 120
SHARED_NETWORK_MODES = ("awsvpc", "host")


def check_task_definition(task: TaskDefinition) -> None:
    """Raise :class:`SpecValueError` for the first broken cross-field rule, in document order."""
    _check_unique_container_names(task)
    _check_essential(task)
    for index, container in enumerate(task.container_definitions):
        _check_depends_on(task, index, container)
        _check_volumes_from(task, index, container)
        _check_mount_points(task, index, container)
    _check_dependency_cycles(task)
    _check_unique_volume_names(task)
    _check_ports(task)
    _check_resources(task)
    if "FARGATE" in task.requires_compatibilities:
        _check_fargate(task)


def _mentions(name: str, known: Iterable[str], what: str) -> str:
    guess = did_you_mean(name, known)
    return f'did you mean "{guess}"?' if guess else f"name one of the task's {what}"


def _check_unique_container_names(task: TaskDefinition) -> None:
    seen: dict[str, int] = {}
    for index, container in enumerate(task.container_definitions):
        if container.name in seen:
            raise SpecValueError(
                f'container name "{container.name}" is already used by '
                f"{CONTAINERS}[{seen[container.name]}]",
                hint="give every container of a task its own name",
                at=(CONTAINERS, index, "name"),
            )
        seen[container.name] = index


def _check_essential(task: TaskDefinition) -> None:
    if not task.essential_containers:
        raise SpecValueError(
            "a task definition needs at least one essential container",
            hint='set "essential": true on the container whose exit should end the task',
            at=(CONTAINERS,),
        )


def _check_depends_on(task: TaskDefinition, index: int, container: ContainerDefinition) -> None:
    names = [c.name for c in task.container_definitions]
    for dep_index, dependency in enumerate(container.depends_on):
        at = (CONTAINERS, index, "dependsOn", dep_index)
        target = dependency.container_name
        if target == container.name:
            raise SpecValueError(
                f'container "{target}" cannot depend on itself',
                hint="name another container of the task, or remove the entry",
                at=(*at, "containerName"),
            )
        if target not in names:
            raise SpecValueError(
                f'dependsOn names container "{target}", which the task does not define',
                hint=_mentions(target, names, "containers"),
                at=(*at, "containerName"),
            )
        _check_condition(task.container(target), dependency.condition, at)


def _check_condition(
    target: ContainerDefinition, condition: str, at: tuple[str | int, ...]
) -> None:
    if condition == "HEALTHY" and target.health_check is None:
        raise SpecValueError(
            f'condition HEALTHY needs a healthCheck on container "{target.name}"',
            hint=f'add a healthCheck to "{target.name}" or use condition START',
            at=(*at, "condition"),
        )
    if condition in ("COMPLETE", "SUCCESS") and target.essential:
        raise SpecValueError(
            f'condition {condition} cannot wait for essential container "{target.name}"',
            hint=f'set "essential": false on "{target.name}" (it is meant to exit) '
            "or use condition START",
            at=(*at, "condition"),
        )


def _check_dependency_cycles(task: TaskDefinition) -> None:
    graph = {c.name: [d.container_name for d in c.depends_on] for c in task.container_definitions}
    done: set[str] = set()
    for index, container in enumerate(task.container_definitions):
        path: list[str] = []
        if _has_cycle(container.name, graph, path, done):
            loop = " -> ".join(path[path.index(path[-1]) :])
            raise SpecValueError(
                f"dependsOn forms a cycle: {loop}",
                hint="remove one of these dependencies; containers could never start",
                at=(CONTAINERS, index, "dependsOn"),
            )


def _has_cycle(name: str, graph: dict[str, list[str]], path: list[str], done: set[str]) -> bool:
    if name in path:
        path.append(name)
        return True
    if name in done:
        return False
    path.append(name)
    for target in graph.get(name, []):
        if _has_cycle(target, graph, path, done):
            return True
    path.pop()
    done.add(name)
    return False


def _check_volumes_from(task: TaskDefinition, index: int, container: ContainerDefinition) -> None:
    names = [c.name for c in task.container_definitions if c.name != container.name]
    for vf_index, source in enumerate(container.volumes_from):
        if source.source_container not in names:
            raise SpecValueError(
                f'volumesFrom names container "{source.source_container}", '
                "which is not another container of the task",
                hint=_mentions(source.source_container, names, "other containers"),
                at=(CONTAINERS, index, "volumesFrom", vf_index, "sourceContainer"),
            )


def _check_mount_points(task: TaskDefinition, index: int, container: ContainerDefinition) -> None:
    volumes = [volume.name for volume in task.volumes]
    for mp_index, mount in enumerate(container.mount_points):
        if mount.source_volume not in volumes:
            guess = did_you_mean(mount.source_volume, volumes)
            hint = (
                f'did you mean "{guess}"?'
                if guess
                else f'declare it in "volumes": [{{"name": "{mount.source_volume}"}}]'
            )
            raise SpecValueError(
                f'mountPoints names volume "{mount.source_volume}", '
                'which "volumes" does not declare',
                hint=hint,
                at=(CONTAINERS, index, "mountPoints", mp_index, "sourceVolume"),
            )


def _check_unique_volume_names(task: TaskDefinition) -> None:
    seen: set[str] = set()
    for index, volume in enumerate(task.volumes):
        if volume.name in seen:
            raise SpecValueError(
                f'volume name "{volume.name}" is declared twice',
                hint="give every volume its own name",
                at=("volumes", index, "name"),
            )
        seen.add(volume.name)


def _check_ports(task: TaskDefinition) -> None:
    """In awsvpc/host mode containers share one network namespace: ports must not clash."""
    mode = task.effective_network_mode
    if mode not in SHARED_NETWORK_MODES:
        return
    owners: dict[tuple[int, str], str] = {}
    for index, container in enumerate(task.container_definitions):
        for pm_index, mapping in enumerate(container.port_mappings):
            at = (CONTAINERS, index, "portMappings", pm_index)
            if mapping.host_port not in (None, mapping.container_port):
                raise SpecValueError(
                    f"in {mode} network mode hostPort must equal containerPort "
                    f"({mapping.container_port}) or be left out",
                    hint="remove hostPort",
                    at=(*at, "hostPort"),
                )
            key = (mapping.container_port, mapping.protocol)
            if key in owners:
                raise SpecValueError(
                    f"port {key[0]}/{key[1]} is already mapped by container "
                    f'"{owners[key]}" and {mode} containers share one network',
                    hint="give each container its own containerPort",
                    at=(*at, "containerPort"),
                )
            owners[key] = container.name


def _check_resources(task: TaskDefinition) -> None:
    """Container reservations fit the task's size; EC2 tasks say how much memory they need."""
    containers = task.container_definitions
    if task.memory_mib is None and "EC2" in task.requires_compatibilities:
        for index, container in enumerate(containers):
            if container.memory is None and container.memory_reservation is None:
                raise SpecValueError(
                    f"Invalid setting for container '{container.name}'. At least one of "
                    "'memory' or 'memoryReservation' must be specified.",
                    hint="set the task-level memory, or memory/memoryReservation on the container",
                    at=(CONTAINERS, index, "memory"),
                )
    reserved = sum(c.memory_reservation or c.memory or 0 for c in containers)
    if task.memory_mib is not None and reserved > task.memory_mib:
        raise SpecValueError(
            f"containers reserve {reserved} MiB but the task has only {task.memory_mib} MiB",
            hint="raise the task memory or lower the containers' memory/memoryReservation",
            at=("memory",),
        )
    cpu = sum(c.cpu for c in containers)
    if task.cpu_units is not None and cpu > task.cpu_units:
        raise SpecValueError(
            f"containers reserve {cpu} CPU units but the task has only {task.cpu_units}",
            hint="raise the task cpu or lower the containers' cpu",
            at=("cpu",),
        )


def _check_fargate(task: TaskDefinition) -> None:
    for field, value in (("cpu", task.cpu_units), ("memory", task.memory_mib)):
        if value is None:
            raise SpecValueError(
                f"FARGATE task definitions need a task-level {field}",
                hint='add e.g. "cpu": "256", "memory": "512" (a valid Fargate task size)',
                at=(field,),
            )
    check_fargate_size(task.cpu_units or 0, task.memory_mib or 0)
    if task.network_mode != "awsvpc":
        raise SpecValueError(
            "FARGATE task definitions must use the awsvpc network mode",
            hint='set "networkMode": "awsvpc"',
            at=("networkMode",),
        )
    for index, container in enumerate(task.container_definitions):
        timeout = container.stop_timeout
        if timeout is not None and timeout > FARGATE_MAX_STOP_TIMEOUT_S:
            raise SpecValueError(
                f"stopTimeout on Fargate is at most {FARGATE_MAX_STOP_TIMEOUT_S} seconds "
                f"(got {timeout})",
                hint=f"use a stopTimeout from 2 to {FARGATE_MAX_STOP_TIMEOUT_S}",
                at=(CONTAINERS, index, "stopTimeout"),
            )
    for index, volume in enumerate(task.volumes):
        if volume.host is not None and volume.host.source_path is not None:
            raise SpecValueError(
                "FARGATE tasks cannot bind host paths (host.sourcePath)",
                hint='remove "sourcePath" to get a scratch volume shared by the containers',
                at=("volumes", index, "host", "sourcePath"),
            )
