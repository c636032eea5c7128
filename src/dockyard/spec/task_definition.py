"""An ECS task definition, as users write it and as ECS registers it.

The JSON is ECS's own (the ``RegisterTaskDefinition`` request: ``family``,
``containerDefinitions``, ``cpu``, ``memory``, ``networkMode``, ...), so a file that
validates here registers with ECS unchanged and one exported from ECS loads here.
Each registration of a family makes a new immutable revision
(:class:`RegisteredTaskDefinition`), ``family:N``.

Use :func:`parse_task_definition` on user input: it accepts only ECS's names and
raises :class:`~dockyard.errors.SpecError` pointing at the offending field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from dockyard.spec import aws_model
from dockyard.spec.base import EcsModel, validate_document
from dockyard.spec.container import ContainerDefinition
from dockyard.spec.fields import AbsolutePath, Int, count_between, in_range, one_of
from dockyard.spec.names import EcsName
from dockyard.spec.task_rules import check_task_definition
from dockyard.spec.task_size import parse_cpu, parse_memory


class HostVolumeProperties(EcsModel):
    """A bind mount: ``sourcePath`` on the host (unset: a scratch volume for the task)."""

    aws_shape: ClassVar[str | None] = "HostVolumeProperties"
    source_path: AbsolutePath | None = None


class Volume(EcsModel):
    """A named volume the task's containers mount (``mountPoints[].sourceVolume``)."""

    aws_shape: ClassVar[str | None] = "Volume"
    name: EcsName
    host: HostVolumeProperties | None = None


def _normalize_cpu(text: str) -> str:
    return str(parse_cpu(text))


def _normalize_memory(text: str) -> str:
    return str(parse_memory(text))


class TaskDefinition(EcsModel):
    """What to run as one task: containers started together, sized and networked alike.

    ``cpu`` and ``memory`` are stored in ECS's integer form (``"1 vCPU"`` becomes
    ``"1024"``); :attr:`cpu_units` and :attr:`memory_mib` give them as numbers.
    """

    aws_shape: ClassVar[str | None] = "RegisterTaskDefinitionRequest"
    output_only: ClassVar[frozenset[str]] = frozenset(
        aws_model.members("ecs", "TaskDefinition")
    ) - frozenset(aws_model.members("ecs", "RegisterTaskDefinitionRequest"))

    family: EcsName
    container_definitions: Annotated[
        tuple[ContainerDefinition, ...], count_between(1, None, "container definition")
    ]
    cpu: Annotated[str, AfterValidator(_normalize_cpu)] | None = None
    memory: Annotated[str, AfterValidator(_normalize_memory)] | None = None
    network_mode: Annotated[str, one_of("ecs", "NetworkMode")] | None = None
    requires_compatibilities: tuple[Annotated[str, one_of("ecs", "Compatibility")], ...] = ()
    volumes: tuple[Volume, ...] = ()
    task_role_arn: str | None = None
    execution_role_arn: str | None = None

    @model_validator(mode="after")
    def _cross_field_rules(self) -> TaskDefinition:
        check_task_definition(self)
        return self

    @property
    def cpu_units(self) -> int | None:
        return None if self.cpu is None else int(self.cpu)

    @property
    def memory_mib(self) -> int | None:
        return None if self.memory is None else int(self.memory)

    @property
    def effective_network_mode(self) -> str:
        """``networkMode``, or ECS's default for Linux tasks when unset (``bridge``)."""
        return self.network_mode or "bridge"

    @property
    def essential_containers(self) -> frozenset[str]:
        return frozenset(c.name for c in self.container_definitions if c.essential)

    def container(self, name: str) -> ContainerDefinition:
        """The container called ``name``; KeyError if there is none."""
        for definition in self.container_definitions:
            if definition.name == name:
                return definition
        raise KeyError(f"task definition {self.family!r} has no container {name!r}")


TaskDefinitionStatus = Literal["ACTIVE", "INACTIVE"]


class RegisteredTaskDefinition(BaseModel):
    """One immutable revision of a family, as the server stores and describes it.

    Not user input (no aliases): the server builds it when registering. ``status`` is
    ACTIVE until deregistered (INACTIVE tasks keep running; no new ones start).
    """

    model_config = ConfigDict(frozen=True)

    family: str
    revision: Annotated[Int, in_range(1, None)]
    status: TaskDefinitionStatus = "ACTIVE"
    definition: TaskDefinition
    registered_at: float | None = None
    deregistered_at: float | None = None

    @property
    def key(self) -> str:
        """``family:revision``, the name services and tasks refer to it by."""
        return f"{self.family}:{self.revision}"

    def to_aws(self) -> dict[str, Any]:
        """DescribeTaskDefinition's ``taskDefinition`` object (without the ARN)."""
        described = self.definition.to_aws()
        described.update(revision=self.revision, status=self.status)
        return described


def parse_task_definition(doc: Mapping[str, Any]) -> TaskDefinition:
    """Validate a user's task definition JSON; raise SpecError naming the field and fix."""
    return validate_document(TaskDefinition, doc, what="task definition")
