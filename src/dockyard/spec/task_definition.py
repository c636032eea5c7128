"""An ECS task definition, as users write it and as ECS registers it.

The JSON is ECS's own (the ``RegisterTaskDefinition`` request: ``family``,
``containerDefinitions``, ``cpu``, ``memory``, ``networkMode``, ...), so a file that
validates here registers with ECS unchanged and one exported from ECS loads here.
Each registration of a family makes a new immutable revision
(:class:`RegisteredTaskDefinition`), ``family:N``.

Use :func:`parse_task_definition` on user input. It checks in two passes and reports
every problem of a pass at once (:class:`~dockyard.spec.errors.InvalidDocument`):

1. the document against botocore's ``RegisterTaskDefinitionRequest`` shape, every
   member at every depth (:mod:`dockyard.spec.aws_shape`), together with the models'
   own checks of the members Dockyard acts on (ranges, paths, units);
2. once every member is well-typed, the rules relating members to each other and to
   the launch type (:mod:`dockyard.spec.task_rules`, :mod:`dockyard.spec.launch_rules`).

Members AWS knows but Dockyard does not act on are kept as written (so the document
goes back to ECS unchanged); :func:`warnings` lists them for the user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from dockyard.errors import SpecError
from dockyard.spec import aws_model
from dockyard.spec.aws_shape import check_shape
from dockyard.spec.base import AWS_NAMES, EcsModel
from dockyard.spec.container import ContainerDefinition
from dockyard.spec.errors import InvalidDocument, merge_problems, problems_of
from dockyard.spec.fields import (
    AbsolutePath,
    Bool,
    Int,
    NonEmpty,
    count_between,
    in_range,
    one_of,
)
from dockyard.spec.names import EcsName
from dockyard.spec.task_rules import check_task_definition
from dockyard.spec.task_size import parse_cpu, parse_memory

REQUEST_SHAPE = "RegisterTaskDefinitionRequest"
WHAT = "task definition"


class HostVolumeProperties(EcsModel):
    """A bind mount: ``sourcePath`` on the host (unset: a scratch volume for the task)."""

    aws_shape: ClassVar[str | None] = "HostVolumeProperties"
    source_path: AbsolutePath | None = None


class DockerVolumeConfiguration(EcsModel):
    """A Docker volume: ``scope`` task (gone with the task) or shared (kept, and shared
    by every task that names it); ``autoprovision`` creates a missing shared one."""

    aws_shape: ClassVar[str | None] = "DockerVolumeConfiguration"
    scope: Annotated[str, one_of("ecs", "Scope")] | None = None
    autoprovision: Bool | None = None


class EfsVolumeConfiguration(EcsModel):
    """An EFS file system (``fileSystemId``), mounted from ``rootDirectory`` down."""

    aws_shape: ClassVar[str | None] = "EFSVolumeConfiguration"
    file_system_id: NonEmpty
    root_directory: str | None = None


class Volume(EcsModel):
    """A named volume the task's containers mount (``mountPoints[].sourceVolume``)."""

    aws_shape: ClassVar[str | None] = "Volume"
    name: EcsName
    host: HostVolumeProperties | None = None
    docker_volume_configuration: DockerVolumeConfiguration | None = None
    efs_volume_configuration: EfsVolumeConfiguration | None = None


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
    def active(self) -> bool:
        """New tasks and services may start from it (ECS refuses INACTIVE revisions)."""
        return self.status == "ACTIVE"

    @property
    def key(self) -> str:
        """``family:revision``, the name services and tasks refer to it by."""
        return f"{self.family}:{self.revision}"

    def to_aws(self) -> dict[str, Any]:
        """DescribeTaskDefinition's ``taskDefinition`` object (without the ARN).

        ``tags`` are not part of it: ECS answers them beside it (:attr:`tags`).
        """
        described = self.definition.to_aws()
        described.pop("tags", None)
        described.update(revision=self.revision, status=self.status)
        if self.registered_at is not None:
            described["registeredAt"] = self.registered_at
        if self.deregistered_at is not None:
            described["deregisteredAt"] = self.deregistered_at
        return described

    @property
    def tags(self) -> list[dict[str, str]]:
        """The tags registered with it, as ECS lists them beside the task definition."""
        return list(self.definition.aws_field("tags") or [])


def parse_task_definition(doc: Mapping[str, Any]) -> TaskDefinition:
    """Validate a user's task definition JSON, or raise one SpecError listing every problem.

    Pass 1 walks botocore's shape and runs the models' field checks side by side; where
    both speak of the same field the model's wording wins (it knows the local meaning,
    e.g. a port's range). Pass 2, the cross-field rules, needs well-typed members, so it
    runs only when pass 1 found nothing.
    """
    if not isinstance(doc, Mapping):
        raise SpecError(
            f"a {WHAT} must be a JSON object, not {type(doc).__name__}",
            hint=f"write the {WHAT} as {{...}}",
        )
    shape_problems = check_shape("ecs", REQUEST_SHAPE, doc)
    try:
        task = TaskDefinition.model_validate(doc, by_name=False, context={AWS_NAMES: True})
    except ValidationError as exc:
        raise InvalidDocument(merge_problems(shape_problems, problems_of(exc)), what=WHAT) from None
    if shape_problems:
        raise InvalidDocument(shape_problems, what=WHAT)
    rule_problems = check_task_definition(task)
    if rule_problems:
        raise InvalidDocument(rule_problems, what=WHAT)
    return task


def warnings(task: TaskDefinition) -> list[str]:
    """One line per member accepted as written but not acted on by Dockyard.

    ECS would act on them (labels, tags, placement constraints…); here they are kept,
    returned by describe and sent back to ECS unchanged, so the user should know they
    change nothing locally.
    """
    return [
        f"{field}: accepted and kept, but Dockyard does not act on it locally"
        for field in task.unmodelled_fields()
    ]
