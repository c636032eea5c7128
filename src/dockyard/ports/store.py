"""Where the control plane keeps its records: desired and observed state, and events.

A :class:`Store` holds one :class:`Collection` per kind of record. Records are
immutable values (:mod:`dockyard.records`); a change is a ``put`` of a new value. The
control loop reconciles a resource in one worker at a time; where the API and a
reconciler may both write a record, each reads, compares and writes inside
:meth:`Store.transaction`, the only lock there is (it never spans other I/O).

The SQLite adapter keeps them across restarts; an in-memory one implements the same
protocol for fast tests and simulations of the server glue.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from dockyard.ports.metrics import MetricStore
from dockyard.records.autoscaling import (
    ScalableTargetRecord,
    ScalingPolicyRecord,
    ScheduledActionRecord,
)
from dockyard.records.endpoint import EndpointRecord
from dockyard.records.hosting import EndpointConfigRecord, ModelRecord
from dockyard.records.instance import ContainerInstanceRecord
from dockyard.records.model_package import ModelPackageGroupRecord, ModelPackageRecord
from dockyard.records.registry import ImageRecord, RepositoryRecord
from dockyard.records.schedule import ScheduleRecord
from dockyard.records.secret import SecretRecord
from dockyard.records.service import ServiceRecord
from dockyard.records.tags import TagsRecord
from dockyard.records.task import TaskRecord
from dockyard.records.task_definition import TaskDefinitionRecord
from dockyard.records.training import TrainingJobRecord
from dockyard.records.transform import TransformJobRecord

R = TypeVar("R")


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    name: str
    at: float
    message: str


class Collection(Protocol[R]):
    """The records of one kind, by key (a record's ``key``), each with an ``owner``."""

    def get(self, key: str) -> R | None: ...

    def require(self, key: str) -> R:
        """Like :meth:`get`; a missing record is the user's :class:`~dockyard.errors.NotFound`."""

    def list(self, owner: str | None = None) -> list[R]:
        """Every record (or those of ``owner``), oldest first."""

    def put(self, record: R) -> None:
        """Insert or replace."""

    def create(self, record: R) -> None:
        """Insert; :class:`~dockyard.errors.Conflict` if the key is taken."""

    def delete(self, key: str) -> bool: ...


class Store(Protocol):
    @property
    def tasks(self) -> Collection[TaskRecord]: ...
    @property
    def services(self) -> Collection[ServiceRecord]: ...
    @property
    def endpoints(self) -> Collection[EndpointRecord]: ...
    @property
    def training_jobs(self) -> Collection[TrainingJobRecord]: ...
    @property
    def task_definitions(self) -> Collection[TaskDefinitionRecord]: ...
    @property
    def repositories(self) -> Collection[RepositoryRecord]: ...
    @property
    def images(self) -> Collection[ImageRecord]: ...
    @property
    def models(self) -> Collection[ModelRecord]: ...
    @property
    def endpoint_configs(self) -> Collection[EndpointConfigRecord]: ...
    @property
    def secrets(self) -> Collection[SecretRecord]: ...  # sealed: never a value in clear
    @property
    def scalable_targets(self) -> Collection[ScalableTargetRecord]: ...
    @property
    def scaling_policies(self) -> Collection[ScalingPolicyRecord]: ...
    @property
    def scheduled_actions(self) -> Collection[ScheduledActionRecord]: ...
    @property
    def schedules(self) -> Collection[ScheduleRecord]: ...  # scheduled tasks
    @property
    def transform_jobs(self) -> Collection[TransformJobRecord]: ...
    @property
    def container_instances(self) -> Collection[ContainerInstanceRecord]: ...
    @property
    def model_package_groups(self) -> Collection[ModelPackageGroupRecord]: ...
    @property
    def model_packages(self) -> Collection[ModelPackageRecord]: ...  # owner: the group
    @property
    def tags(self) -> Collection[TagsRecord]: ...  # SageMaker resources' tags
    @property
    def metrics(self) -> MetricStore:
        """Time series (training metrics), bounded; outside :meth:`transaction`."""

    def transaction(self) -> AbstractContextManager[None]:
        """Writes inside land together or not at all."""

    def add_event(self, kind: str, name: str, message: str) -> Event: ...

    def events(
        self, kind: str | None = None, name: str | None = None, after_id: int = 0, limit: int = 200
    ) -> list[Event]:
        """Events oldest first, after ``after_id``."""

    def close(self) -> None: ...
