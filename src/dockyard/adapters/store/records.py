"""What the store adapters share: how a record names its kind, key and owner."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from dockyard.errors import Conflict, NotFound

#: how the CLI lists each kind, for the hint of a NotFound
LIST_COMMANDS = {
    "task": "dockyard tasks",
    "service": "dockyard endpoints",
    "endpoint": "dockyard endpoints",
    "training_job": "dockyard training-jobs",
    "task_definition": "dockyard task-definitions",
    "model": "aws sagemaker list-models",
    "endpoint_config": "aws sagemaker list-endpoint-configs",
    "secret": "dockyard secret list",
    "schedule": "dockyard schedule list",
    "transform_job": "dockyard transform-jobs",
    "model_package_group": "aws sagemaker list-model-package-groups",
    "model_package": "aws sagemaker list-model-packages",
}

NOUNS = {
    "training_job": "training job",
    "task_definition": "task definition",
    "endpoint_config": "endpoint config",
    "transform_job": "transform job",
    "model_package_group": "model package group",
    "model_package": "model package",
}


class Keyed(Protocol):
    KIND: ClassVar[str]

    @property
    def key(self) -> str: ...

    @property
    def owner(self) -> Any: ...


def resource(kind: str, key: str) -> str:
    """How errors name a record: ``endpoint/iris``, ``training-job/iris-1``."""
    return f"{kind.replace('_', '-')}/{key}"


def not_found(kind: str, key: str) -> NotFound:
    noun = NOUNS.get(kind, kind)
    return NotFound(
        f"no {noun} named {key!r}",
        resource=resource(kind, key),
        hint=f"list what exists with `{LIST_COMMANDS.get(kind, 'dockyard --help')}`",
    )


def conflict(kind: str, key: str) -> Conflict:
    noun = NOUNS.get(kind, kind)
    article = "an" if noun[0] in "aeiou" else "a"
    return Conflict(
        f"{article} {noun} named {key!r} already exists",
        resource=resource(kind, key),
        hint=f"{noun} names are unique: choose another name, or delete the existing one",
    )
