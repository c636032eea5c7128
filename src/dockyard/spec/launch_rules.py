"""Rules that depend on where a task runs: Fargate's limits and the awsvpc network mode.

A FARGATE task gets its own micro-VM: no host to share (no ``privileged``, host PID or
IPC namespace, devices or Docker volumes), a fixed menu of task sizes, at most 120 s
to stop, and only the awsvpc network mode. awsvpc gives each task its own network
interface, so the container-level settings that assume a shared host network
(``hostname``, ``extraHosts``) do not apply. Each sentence here is botocore's
documentation of the member concerned (``ContainerDefinition``, ``LinuxParameters``,
``RegisterTaskDefinitionRequest``, ``Volume``, ``KernelCapabilities``,
``LogConfiguration``), which ECS enforces at registration but the model cannot express.

Every rule yields :class:`~dockyard.spec.errors.SpecValueError` located from the task
definition's root, and all of them run, so one answer names every change to make.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dockyard.spec.errors import SpecValueError
from dockyard.spec.task_size import check_fargate_size

if TYPE_CHECKING:
    from dockyard.spec.container import ContainerDefinition
    from dockyard.spec.task_definition import TaskDefinition

CONTAINERS = "containerDefinitions"
FARGATE_MAX_STOP_TIMEOUT_S = 120
FARGATE_LOG_DRIVERS = ("awslogs", "splunk", "awsfirelens")
FARGATE_CAPABILITIES = ("SYS_PTRACE",)
FARGATE_EPHEMERAL_GIB = (21, 200)
_WHY = "Fargate runs each task in its own VM with no host to share"

Rules = Iterator[SpecValueError]


def check_launch_rules(task: TaskDefinition) -> Rules:
    """The awsvpc rules for awsvpc tasks, and Fargate's for tasks that require FARGATE."""
    if task.effective_network_mode == "awsvpc":
        for index, container in enumerate(task.container_definitions):
            yield from _awsvpc_container(index, container)
    if "FARGATE" in task.requires_compatibilities:
        yield from _fargate_task(task)
        for index, container in enumerate(task.container_definitions):
            yield from _fargate_container(index, container)


def _awsvpc_container(index: int, container: ContainerDefinition) -> Rules:
    at = (CONTAINERS, index)
    if container.aws_field("hostname") is not None:
        yield SpecValueError(
            "hostname is not supported in the awsvpc network mode",
            hint="remove hostname: the task's network interface names the host",
            at=(*at, "hostname"),
        )
    if container.aws_field("extraHosts"):
        yield SpecValueError(
            "extraHosts is not supported in the awsvpc network mode",
            hint="remove extraHosts, or use the bridge network mode on EC2",
            at=(*at, "extraHosts"),
        )


def _fargate_task(task: TaskDefinition) -> Rules:
    for field, value in (("cpu", task.cpu_units), ("memory", task.memory_mib)):
        if value is None:
            yield SpecValueError(
                f"FARGATE task definitions need a task-level {field}",
                hint='add e.g. "cpu": "256", "memory": "512" (a valid Fargate task size)',
                at=(field,),
            )
    if task.cpu_units is not None and task.memory_mib is not None:
        try:
            check_fargate_size(task.cpu_units, task.memory_mib)
        except SpecValueError as error:
            yield error
    if task.network_mode != "awsvpc":
        yield SpecValueError(
            "FARGATE task definitions must use the awsvpc network mode",
            hint='set "networkMode": "awsvpc"',
            at=("networkMode",),
        )
    if task.aws_field("pidMode") == "host":
        yield SpecValueError(
            'pidMode "host" is not supported on Fargate (the only valid value is "task")',
            hint=f'use "pidMode": "task" or remove it; {_WHY}',
            at=("pidMode",),
        )
    if task.aws_field("ipcMode") is not None:
        yield SpecValueError(
            "ipcMode is not supported on Fargate",
            hint=f"remove ipcMode; {_WHY}",
            at=("ipcMode",),
        )
    if task.aws_field("placementConstraints"):
        yield SpecValueError(
            "placementConstraints are not supported on Fargate (there are no instances)",
            hint="remove placementConstraints, or require EC2 instead of FARGATE",
            at=("placementConstraints",),
        )
    yield from _fargate_storage(task)
    yield from _fargate_volumes(task)


def _fargate_storage(task: TaskDefinition) -> Rules:
    storage = task.aws_field("ephemeralStorage")
    size = storage.get("sizeInGiB") if isinstance(storage, dict) else None
    low, high = FARGATE_EPHEMERAL_GIB
    if isinstance(size, int) and not low <= size <= high:
        yield SpecValueError(
            f"ephemeralStorage.sizeInGiB must be between {low} and {high} on Fargate (got {size})",
            hint=f"use a size from {low} to {high} GiB",
            at=("ephemeralStorage", "sizeInGiB"),
        )


def _fargate_volumes(task: TaskDefinition) -> Rules:
    for index, volume in enumerate(task.volumes):
        if volume.host is not None and volume.host.source_path is not None:
            yield SpecValueError(
                "FARGATE tasks cannot bind host paths (host.sourcePath)",
                hint='remove "sourcePath" to get a scratch volume shared by the containers',
                at=("volumes", index, "host", "sourcePath"),
            )
        if volume.docker_volume_configuration is not None:
            yield SpecValueError(
                "Docker volumes (dockerVolumeConfiguration) are not supported on Fargate",
                hint="use an efsVolumeConfiguration, or a scratch volume (just a name)",
                at=("volumes", index, "dockerVolumeConfiguration"),
            )


def _fargate_container(index: int, container: ContainerDefinition) -> Rules:
    at = (CONTAINERS, index)
    timeout = container.stop_timeout
    if timeout is not None and timeout > FARGATE_MAX_STOP_TIMEOUT_S:
        yield SpecValueError(
            f"stopTimeout on Fargate is at most {FARGATE_MAX_STOP_TIMEOUT_S} seconds "
            f"(got {timeout})",
            hint=f"use a stopTimeout from 2 to {FARGATE_MAX_STOP_TIMEOUT_S}",
            at=(*at, "stopTimeout"),
        )
    if container.aws_field("privileged") is True:
        yield SpecValueError(
            "privileged containers are not supported on Fargate",
            hint=f'remove "privileged" (or set it to false); {_WHY}',
            at=(*at, "privileged"),
        )
    if container.aws_field("dockerSecurityOptions"):
        yield SpecValueError(
            "dockerSecurityOptions are not valid on Fargate",
            hint=f"remove dockerSecurityOptions; {_WHY}",
            at=(*at, "dockerSecurityOptions"),
        )
    log = container.log_configuration
    if log is not None and log.log_driver not in FARGATE_LOG_DRIVERS:
        yield SpecValueError(
            f'log driver "{log.log_driver}" is not supported on Fargate',
            hint=f"use one of: {', '.join(FARGATE_LOG_DRIVERS)}",
            at=(*at, "logConfiguration", "logDriver"),
        )
    yield from _fargate_linux_parameters(index, container)


def _fargate_linux_parameters(index: int, container: ContainerDefinition) -> Rules:
    params = container.linux_parameters
    if params is None:
        return
    at = (CONTAINERS, index, "linuxParameters")
    unsupported: list[tuple[str, Any]] = [
        ("devices", params.aws_field("devices")),
        ("sharedMemorySize", params.shared_memory_size),
        ("maxSwap", params.max_swap),
        ("swappiness", params.swappiness),
    ]
    for name, value in unsupported:
        if value is not None and value != []:
            yield SpecValueError(
                f"linuxParameters.{name} is not supported on Fargate",
                hint=f"remove {name}; {_WHY}",
                at=(*at, name),
            )
    added = params.capabilities.add if params.capabilities is not None else ()
    for cap_index, capability in enumerate(added):
        if capability not in FARGATE_CAPABILITIES:
            yield SpecValueError(
                f'Fargate can only add the SYS_PTRACE capability, not "{capability}"',
                hint=f'remove "{capability}" from capabilities.add',
                at=(*at, "capabilities", "add", cap_index),
            )
