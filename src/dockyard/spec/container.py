"""One container of an ECS task definition, as users write it (``containerDefinitions[]``).

Field names, enums and defaults are ECS's (botocore ``ContainerDefinition`` and the
ECS developer guide). Rules that involve only one container live here; rules that
relate containers to each other or to the task (``dependsOn`` targets, volumes,
Fargate limits) live in :mod:`dockyard.spec.task_rules`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, model_validator

from dockyard.spec.base import EcsModel
from dockyard.spec.errors import SpecValueError
from dockyard.spec.fields import AbsolutePath, Bool, Int, NonEmpty, in_range, one_of
from dockyard.spec.names import EcsName

Port = Annotated[Int, in_range(1, 65535)]
HostPort = Annotated[Int, in_range(0, 65535)]
MiB = Annotated[Int, in_range(6, None, "MiB")]  # Docker reserves at least 6 MiB per container

HEALTH_CHECK_KINDS = ("CMD", "CMD-SHELL")
DEFAULT_STOP_TIMEOUT_S = 30


class KeyValuePair(EcsModel):
    """One environment variable (``environment[]``)."""

    aws_shape: ClassVar[str | None] = "KeyValuePair"
    name: NonEmpty
    value: str = ""


class Secret(EcsModel):
    """A variable whose value comes from a secret store (``valueFrom``), never the file."""

    aws_shape: ClassVar[str | None] = "Secret"
    name: NonEmpty
    value_from: NonEmpty


class PortMapping(EcsModel):
    """A container port to expose; ``hostPort`` 0 or unset lets the engine choose."""

    aws_shape: ClassVar[str | None] = "PortMapping"
    container_port: Port
    host_port: HostPort | None = None
    protocol: Annotated[str, one_of("ecs", "TransportProtocol")] = "tcp"


def _check_command(command: tuple[str, ...]) -> tuple[str, ...]:
    if len(command) < 2 or command[0] not in HEALTH_CHECK_KINDS:
        raise SpecValueError(
            'must start with "CMD" or "CMD-SHELL" followed by the command',
            hint='write e.g. ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]',
        )
    return command


class HealthCheck(EcsModel):
    """Docker HEALTHCHECK of a container; ECS's defaults and ranges."""

    aws_shape: ClassVar[str | None] = "HealthCheck"
    command: Annotated[tuple[str, ...], AfterValidator(_check_command)]
    interval: Annotated[Int, in_range(5, 300, "seconds")] = 30
    timeout: Annotated[Int, in_range(2, 60, "seconds")] = 5
    retries: Annotated[Int, in_range(1, 10)] = 3
    start_period: Annotated[Int, in_range(0, 300, "seconds")] = 0


class ContainerDependency(EcsModel):
    """Start this container only once ``containerName`` reached ``condition``."""

    aws_shape: ClassVar[str | None] = "ContainerDependency"
    container_name: NonEmpty
    condition: Annotated[str, one_of("ecs", "ContainerCondition")]


class MountPoint(EcsModel):
    """A task volume (``sourceVolume``) mounted at ``containerPath``."""

    aws_shape: ClassVar[str | None] = "MountPoint"
    source_volume: NonEmpty
    container_path: AbsolutePath
    read_only: Bool = False


class VolumeFrom(EcsModel):
    """All mount points of another container of the task."""

    aws_shape: ClassVar[str | None] = "VolumeFrom"
    source_container: NonEmpty
    read_only: Bool = False


class LogConfiguration(EcsModel):
    """Log driver and its options (locally, logs are always kept by Dockyard as well)."""

    aws_shape: ClassVar[str | None] = "LogConfiguration"
    log_driver: Annotated[str, one_of("ecs", "LogDriver")]
    options: dict[str, str] = Field(default_factory=dict)
    secret_options: tuple[Secret, ...] = ()


class Ulimit(EcsModel):
    aws_shape: ClassVar[str | None] = "Ulimit"
    name: Annotated[str, one_of("ecs", "UlimitName")]
    soft_limit: Int
    hard_limit: Int

    @model_validator(mode="after")
    def _soft_within_hard(self) -> Ulimit:
        if self.soft_limit > self.hard_limit:
            raise SpecValueError(
                f"softLimit {self.soft_limit} is above hardLimit {self.hard_limit}",
                hint="make softLimit less than or equal to hardLimit",
                at=("softLimit",),
            )
        return self


class KernelCapabilities(EcsModel):
    aws_shape: ClassVar[str | None] = "KernelCapabilities"
    add: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()


class Tmpfs(EcsModel):
    aws_shape: ClassVar[str | None] = "Tmpfs"
    container_path: AbsolutePath
    size: Annotated[Int, in_range(1, None, "MiB")]
    mount_options: tuple[str, ...] = ()


class LinuxParameters(EcsModel):
    aws_shape: ClassVar[str | None] = "LinuxParameters"
    capabilities: KernelCapabilities | None = None
    init_process_enabled: Bool | None = None
    shared_memory_size: Annotated[Int, in_range(1, None, "MiB")] | None = None
    tmpfs: tuple[Tmpfs, ...] = ()
    max_swap: Annotated[Int, in_range(0, None, "MiB")] | None = None
    swappiness: Annotated[Int, in_range(0, 100)] | None = None


class ContainerDefinition(EcsModel):
    """One container of a task definition (``containerDefinitions[]``)."""

    aws_shape: ClassVar[str | None] = "ContainerDefinition"
    name: EcsName
    image: NonEmpty
    cpu: Annotated[Int, in_range(0, None, "CPU units")] = 0
    memory: MiB | None = None
    memory_reservation: MiB | None = None
    port_mappings: tuple[PortMapping, ...] = ()
    essential: Bool = True
    environment: tuple[KeyValuePair, ...] = ()
    secrets: tuple[Secret, ...] = ()
    command: tuple[str, ...] | None = None
    entry_point: tuple[str, ...] | None = None
    working_directory: str | None = None
    user: str | None = None
    health_check: HealthCheck | None = None
    depends_on: tuple[ContainerDependency, ...] = ()
    mount_points: tuple[MountPoint, ...] = ()
    volumes_from: tuple[VolumeFrom, ...] = ()
    log_configuration: LogConfiguration | None = None
    stop_timeout: Annotated[Int, in_range(0, None, "seconds")] | None = None
    ulimits: tuple[Ulimit, ...] = ()
    readonly_root_filesystem: Bool | None = None
    linux_parameters: LinuxParameters | None = None

    @model_validator(mode="after")
    def _reservation_below_limit(self) -> ContainerDefinition:
        if (
            self.memory is not None
            and self.memory_reservation is not None
            and self.memory_reservation >= self.memory
        ):
            raise SpecValueError(
                f"memoryReservation ({self.memory_reservation} MiB) must be lower than "
                f"memory ({self.memory} MiB)",
                hint="lower memoryReservation (the soft limit) or raise memory (the hard limit)",
                at=("memoryReservation",),
            )
        return self

    @property
    def environment_map(self) -> dict[str, str]:
        """``environment`` as a mapping (a later entry wins, as with ``docker run -e``)."""
        return {pair.name: pair.value for pair in self.environment}

    @property
    def effective_stop_timeout(self) -> int:
        """Seconds between SIGTERM and SIGKILL: ``stopTimeout``, or ECS's default 30."""
        return DEFAULT_STOP_TIMEOUT_S if self.stop_timeout is None else self.stop_timeout
