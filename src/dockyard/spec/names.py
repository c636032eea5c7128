"""Name rules shared across resources, and the references that point at names.

SageMaker names carry their pattern in botocore's model, so they are checked against
it (see :func:`dockyard.spec.fields.aws_string`). ECS names only describe their rule in
prose ("Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens
are allowed", on ``family``, ``ContainerDefinition.name`` and ``serviceName``), so that
rule is written down here once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from dockyard.spec.errors import SpecValueError
from dockyard.spec.fields import aws_string

_ECS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
ECS_NAME_RULE = "use 1-255 letters, digits, hyphens and underscores"
SAGEMAKER_NAME_RULE = (
    "use 1-63 letters, digits and hyphens, starting and ending with a letter or digit"
)


def _ecs_name(value: str) -> str:
    if not _ECS_NAME.fullmatch(value):
        shown = f'"{value}"' if value else "an empty name"
        raise SpecValueError(f"{shown} is not a valid name", hint=ECS_NAME_RULE)
    return value


EcsName = Annotated[str, AfterValidator(_ecs_name)]

TrainingJobName = Annotated[
    str, aws_string("sagemaker", "TrainingJobName", rule=SAGEMAKER_NAME_RULE)
]
ModelName = Annotated[str, aws_string("sagemaker", "ModelName", rule=SAGEMAKER_NAME_RULE)]
EndpointName = Annotated[str, aws_string("sagemaker", "EndpointName", rule=SAGEMAKER_NAME_RULE)]
EndpointConfigName = Annotated[
    str, aws_string("sagemaker", "EndpointConfigName", rule=SAGEMAKER_NAME_RULE)
]
VariantName = Annotated[str, aws_string("sagemaker", "VariantName", rule=SAGEMAKER_NAME_RULE)]
ChannelName = Annotated[
    str,
    aws_string(
        "sagemaker", "ChannelName", rule="use 1-64 letters, digits, dots, hyphens and underscores"
    ),
]


@dataclass(frozen=True)
class TaskDefinitionRef:
    """What a service or RunTask names: a family, optionally pinned to a revision."""

    family: str
    revision: int | None = None

    def __str__(self) -> str:
        return self.family if self.revision is None else f"{self.family}:{self.revision}"


_TASK_DEF_REF = re.compile(
    r"(?:arn:aws[a-z-]*:ecs:[a-z0-9-]*:\d{12}:task-definition/)?"
    r"(?P<family>[A-Za-z0-9_-]{1,255})(?::(?P<revision>[1-9]\d*))?"
)


def parse_task_definition_ref(text: str) -> TaskDefinitionRef:
    """``family``, ``family:3`` or a task-definition ARN → :class:`TaskDefinitionRef`.

    Raises :class:`SpecValueError` (relative to the field holding ``text``).
    """
    match = _TASK_DEF_REF.fullmatch(text)
    if match is None:
        raise SpecValueError(
            f'"{text}" is not a task definition reference',
            hint='write "family" (latest ACTIVE revision) or "family:revision", e.g. "web:3"',
        )
    revision = match.group("revision")
    return TaskDefinitionRef(match.group("family"), int(revision) if revision else None)


_TARGET_GROUP_ARN = re.compile(
    r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]*:\d{12}:targetgroup/(?P<name>[^/]+)/[0-9a-f]+"
)


def target_group_name(text: str) -> str:
    """The target group's name from its ARN, or ``text`` itself when it is a plain name.

    Locally a target group is a route of Dockyard's load balancer, named like it.
    """
    match = _TARGET_GROUP_ARN.fullmatch(text)
    name = match.group("name") if match else text
    if not _ECS_NAME.fullmatch(name):
        raise SpecValueError(
            f'"{text}" is neither a target group ARN nor a target group name',
            hint=f"give the target group's ARN or its name ({ECS_NAME_RULE})",
        )
    return name


def training_hosts(count: int) -> tuple[str, ...]:
    """The host names of a training job with ``count`` instances: algo-1 … algo-N."""
    return tuple(f"algo-{index}" for index in range(1, count + 1))


def host_order(host: str) -> tuple[int, str]:
    """Sort key putting algo-2 before algo-10 (SageMaker lists hosts in this order)."""
    prefix, _, number = host.rpartition("-")
    return (int(number), prefix) if number.isdigit() else (0, host)
