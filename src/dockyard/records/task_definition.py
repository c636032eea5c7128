"""The task-definition registry's entries: immutable revisions of a family (ECS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from dockyard.spec.task_definition import RegisteredTaskDefinition


@dataclass(frozen=True)
class TaskDefinitionRecord:
    """One registered revision, stored under ``family:revision`` and owned by its family."""

    KIND: ClassVar[str] = "task_definition"

    registered: RegisteredTaskDefinition

    @property
    def key(self) -> str:
        return self.registered.key

    @property
    def owner(self) -> str:
        return self.registered.family
