"""Rules of a task definition that relate its parts to each other.

botocore's model types each member (:mod:`dockyard.spec.aws_shape` checks that); what
it cannot say is how members relate: ``dependsOn`` naming a container of the task,
names unique, one essential container, ports in a shared network namespace. Each rule
yields :class:`~dockyard.spec.errors.SpecValueError` located from the task definition's
root (``containerDefinitions[1].dependsOn[0].containerName``), and every rule runs, so
one answer lists every broken rule. Sources: botocore's documentation of
``RegisterTaskDefinitionRequest`` and ``ContainerDefinition`` (essential containers,
memory, host ports in awsvpc/host mode) and the ECS developer guide (dependsOn
conditions). Rules that depend on the launch type live in
:mod:`dockyard.spec.launch_rules`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from dockyard.spec.errors import Problem, SpecValueError, did_you_mean
from dockyard.spec.launch_rules import check_launch_rules

if TYPE_CHECKING:
    from dockyard.spec.container import ContainerDefinition
    from dockyard.spec.task_definition import TaskDefinition

CONTAINERS = "containerDefinitions"
SHARED_NETWORK_MODES = ("awsvpc", "host")
Rules = Iterator[SpecValueError]


def check_task_definition(task: TaskDefinition) -> list[Problem]:
    """Every broken cross-field rule of ``task``, in document order ([] if none)."""
    return [Problem.of(error) for error in _rules(task)]


def _rules(task: TaskDefinition) -> Rules:
    yield from _check_unique_container_names(task)
    yield from _check_essential(task)
    for index, container in enumerate(task.container_definitions):
        yield from _check_depends_on(task, index, container)
        yield from _check_volumes_from(task, index, container)
        yield from _check_mount_points(task, index, container)
        yield from _check_links(task, index, container)
    yield from _check_dependency_cycles(task)
    yield from _check_unique_volume_names(task)
    yield from _check_ports(task)
    yield from _check_resources(task)
    yield from _check_tags(task)
    yield from check_launch_rules(task)


def _mentions(name: str, known: Iterable[str], what: str) -> str:
    guess = did_you_mean(name, known)
    return f'did you mean "{guess}"?' if guess else f"name one of the task's {what}"


def _check_unique_container_names(task: TaskDefinition) -> Rules:
    seen: dict[str, int] = {}
    for index, container in enumerate(task.container_definitions):
        if container.name in seen:
            yield SpecValueError(
                f'container name "{container.name}" is already used by '
                f"{CONTAINERS}[{seen[container.name]}]",
                hint="give every container of a task its own name",
                at=(CONTAINERS, index, "name"),
            )
        seen[container.name] = index


def _check_essential(task: TaskDefinition) -> Rules:
    if not task.essential_containers:
        yield SpecValueError(
            "a task definition needs at least one essential container",
            hint='set "essential": true on the container whose exit should end the task',
            at=(CONTAINERS,),
        )


def _check_depends_on(task: TaskDefinition, index: int, container: ContainerDefinition) -> Rules:
    names = [c.name for c in task.container_definitions]
    for dep_index, dependency in enumerate(container.depends_on):
        at = (CONTAINERS, index, "dependsOn", dep_index)
        target = dependency.container_name
        if target == container.name:
            yield SpecValueError(
                f'container "{target}" cannot depend on itself',
                hint="name another container of the task, or remove the entry",
                at=(*at, "containerName"),
            )
            continue
        if target not in names:
            yield SpecValueError(
                f'dependsOn names container "{target}", which the task does not define',
                hint=_mentions(target, names, "containers"),
                at=(*at, "containerName"),
            )
            continue
        yield from _check_condition(task.container(target), dependency.condition, at)


def _check_condition(
    target: ContainerDefinition, condition: str, at: tuple[str | int, ...]
) -> Rules:
    if condition == "HEALTHY" and target.health_check is None:
        yield SpecValueError(
            f'condition HEALTHY needs a healthCheck on container "{target.name}"',
            hint=f'add a healthCheck to "{target.name}" or use condition START',
            at=(*at, "condition"),
        )
    if condition in ("COMPLETE", "SUCCESS") and target.essential:
        yield SpecValueError(
            f'condition {condition} cannot wait for essential container "{target.name}"',
            hint=f'set "essential": false on "{target.name}" (it is meant to exit) '
            "or use condition START",
            at=(*at, "condition"),
        )


def _check_dependency_cycles(task: TaskDefinition) -> Rules:
    """Each cycle once, at the first container on it (a self-reference is reported above)."""
    graph = {
        c.name: [d.container_name for d in c.depends_on if d.container_name != c.name]
        for c in task.container_definitions
    }
    done: set[str] = set()
    reported: set[frozenset[str]] = set()
    for index, container in enumerate(task.container_definitions):
        path: list[str] = []
        if not _has_cycle(container.name, graph, path, done):
            continue
        loop = path[path.index(path[-1]) :]
        members = frozenset(loop)
        done.update(members)
        if members in reported:
            continue
        reported.add(members)
        yield SpecValueError(
            f"dependsOn forms a cycle: {' -> '.join(loop)}",
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


def _check_volumes_from(task: TaskDefinition, index: int, container: ContainerDefinition) -> Rules:
    names = [c.name for c in task.container_definitions if c.name != container.name]
    for vf_index, source in enumerate(container.volumes_from):
        if source.source_container not in names:
            yield SpecValueError(
                f'volumesFrom names container "{source.source_container}", '
                "which is not another container of the task",
                hint=_mentions(source.source_container, names, "other containers"),
                at=(CONTAINERS, index, "volumesFrom", vf_index, "sourceContainer"),
            )


def _check_mount_points(task: TaskDefinition, index: int, container: ContainerDefinition) -> Rules:
    volumes = [volume.name for volume in task.volumes]
    for mp_index, mount in enumerate(container.mount_points):
        if mount.source_volume not in volumes:
            guess = did_you_mean(mount.source_volume, volumes)
            hint = (
                f'did you mean "{guess}"?'
                if guess
                else f'declare it in "volumes": [{{"name": "{mount.source_volume}"}}]'
            )
            yield SpecValueError(
                f'mountPoints names volume "{mount.source_volume}", '
                'which "volumes" does not declare',
                hint=hint,
                at=(CONTAINERS, index, "mountPoints", mp_index, "sourceVolume"),
            )


def _check_unique_volume_names(task: TaskDefinition) -> Rules:
    seen: set[str] = set()
    for index, volume in enumerate(task.volumes):
        if volume.name in seen:
            yield SpecValueError(
                f'volume name "{volume.name}" is declared twice',
                hint="give every volume its own name",
                at=("volumes", index, "name"),
            )
        seen.add(volume.name)


def _check_ports(task: TaskDefinition) -> Rules:
    """In awsvpc/host mode containers share one network namespace: ports must not clash."""
    mode = task.effective_network_mode
    if mode == "none":
        for index, container in enumerate(task.container_definitions):
            if container.port_mappings:
                yield SpecValueError(
                    "a task in the none network mode cannot map ports",
                    hint='remove portMappings, or use "networkMode": "awsvpc" or "bridge"',
                    at=(CONTAINERS, index, "portMappings"),
                )
        return
    if mode not in SHARED_NETWORK_MODES:
        return
    owners: dict[tuple[int, str], str] = {}
    for index, container in enumerate(task.container_definitions):
        for pm_index, mapping in enumerate(container.port_mappings):
            at = (CONTAINERS, index, "portMappings", pm_index)
            if mapping.host_port not in (None, mapping.container_port):
                yield SpecValueError(
                    f"in {mode} network mode hostPort must equal containerPort "
                    f"({mapping.container_port}) or be left out",
                    hint="remove hostPort",
                    at=(*at, "hostPort"),
                )
            key = (mapping.container_port, mapping.protocol)
            if key in owners:
                yield SpecValueError(
                    f"port {key[0]}/{key[1]} is already mapped by container "
                    f'"{owners[key]}" and {mode} containers share one network',
                    hint="give each container its own containerPort",
                    at=(*at, "containerPort"),
                )
            owners[key] = container.name


def _check_resources(task: TaskDefinition) -> Rules:
    """Container reservations fit the task's size; EC2 tasks say how much memory they need."""
    containers = task.container_definitions
    if task.memory_mib is None and "EC2" in task.requires_compatibilities:
        for index, container in enumerate(containers):
            if container.memory is None and container.memory_reservation is None:
                yield SpecValueError(
                    f"Invalid setting for container '{container.name}'. At least one of "
                    "'memory' or 'memoryReservation' must be specified.",
                    hint="set the task-level memory, or memory/memoryReservation on the container",
                    at=(CONTAINERS, index, "memory"),
                )
    reserved = sum(c.memory_reservation or c.memory or 0 for c in containers)
    if task.memory_mib is not None and reserved > task.memory_mib:
        yield SpecValueError(
            f"containers reserve {reserved} MiB but the task has only {task.memory_mib} MiB",
            hint="raise the task memory or lower the containers' memory/memoryReservation",
            at=("memory",),
        )
    cpu = sum(c.cpu for c in containers)
    if task.cpu_units is not None and cpu > task.cpu_units:
        yield SpecValueError(
            f"containers reserve {cpu} CPU units but the task has only {task.cpu_units}",
            hint="raise the task cpu or lower the containers' cpu",
            at=("cpu",),
        )


def _check_links(task: TaskDefinition, index: int, container: ContainerDefinition) -> Rules:
    """``links`` (``name`` or ``name:alias``) exist only in bridge mode, between containers."""
    links = container.aws_field("links") or []
    if not links:
        return
    mode = task.effective_network_mode
    if mode != "bridge":
        yield SpecValueError(
            f"links are only supported in the bridge network mode (this task uses {mode})",
            hint="remove links: containers of an awsvpc or host task reach each other on localhost",
            at=(CONTAINERS, index, "links"),
        )
        return
    others = [c.name for c in task.container_definitions if c.name != container.name]
    for link_index, link in enumerate(links):
        name = str(link).split(":", 1)[0]
        if name not in others:
            yield SpecValueError(
                f'links names container "{name}", which is not another container of the task',
                hint=_mentions(name, others, "other containers"),
                at=(CONTAINERS, index, "links", link_index),
            )


def _check_tags(task: TaskDefinition) -> Rules:
    """A tag needs a key, used once, outside AWS's reserved ``aws:`` prefix (value optional)."""
    seen: dict[str, int] = {}
    for index, tag in enumerate(task.aws_field("tags") or []):
        key = tag.get("key")
        if not key:
            yield SpecValueError(
                "a tag needs a key",
                hint='write {"key": "team", "value": "ml"} (the value may be left out)',
                at=("tags", index, "key"),
            )
            continue
        if str(key).lower().startswith("aws:"):
            yield SpecValueError(
                f'tag key "{key}" uses the prefix "aws:", which AWS reserves',
                hint="choose a key without the aws: prefix",
                at=("tags", index, "key"),
            )
        if key in seen:
            yield SpecValueError(
                f'tag key "{key}" is already used by tags[{seen[key]}]',
                hint="each tag key may appear once; merge the values",
                at=("tags", index, "key"),
            )
        seen.setdefault(key, index)
