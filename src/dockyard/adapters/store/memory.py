"""The store in memory: the same protocol as SQLite, for fast tests and simulations.

Records are immutable values, so they are kept as they are (no copies, no JSON):
what a test reads back is exactly what the server wrote. Nothing survives the
process; use :class:`~dockyard.adapters.store.sqlite.SqliteStore` for that.
"""

from __future__ import annotations

import builtins
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from dockyard.adapters.store.metrics import MemoryMetrics
from dockyard.adapters.store.records import Keyed, conflict, not_found
from dockyard.ports.store import Event
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

R = TypeVar("R", bound=Keyed)


class MemoryCollection(Generic[R]):
    """Records by key, in creation order, and an index owner → keys.

    Each key gets a creation number when it is created (a replaced record keeps its
    own); each owner's keys are held in an ordered dict keyed by that number, in
    ascending order, so :meth:`list` of one owner reads only that owner's records.
    """

    def __init__(self, lock: threading.RLock, kind: str) -> None:
        self._lock = lock
        self._kind = kind
        self._records: dict[str, R] = {}  # insertion order is creation order
        self._created: dict[str, int] = {}  # key → its creation number
        self._owners: dict[Any, dict[int, str]] = {}  # creation number → key, ascending
        self._numbers = itertools.count()

    def get(self, key: str) -> R | None:
        with self._lock:
            return self._records.get(key)

    def require(self, key: str) -> R:
        record = self.get(key)
        if record is None:
            raise not_found(self._kind, key)
        return record

    def list(self, owner: str | None = None) -> builtins.list[R]:
        with self._lock:
            if owner is None:
                return builtins.list(self._records.values())
            keys = self._owners.get(owner, {}).values()
            return [self._records[key] for key in keys]

    def put(self, record: R) -> None:
        with self._lock:
            self._write(record)

    def create(self, record: R) -> None:
        with self._lock:
            if record.key in self._records:
                raise conflict(self._kind, record.key)
            self._write(record)

    def delete(self, key: str) -> bool:
        with self._lock:
            record = self._records.pop(key, None)
            if record is None:
                return False
            self._unindex(record.owner, self._created.pop(key))
            return True

    def snapshot(self) -> dict[str, R]:
        """The records as they are now, for :meth:`restore` (records are immutable)."""
        with self._lock:
            return dict(self._records)

    def restore(self, records: dict[str, R]) -> None:
        """Put back a :meth:`snapshot`, and the index with it (renumbered in its order)."""
        with self._lock:
            self._records = records
            self._created = {key: number for number, key in enumerate(records)}
            self._numbers = itertools.count(len(records))
            self._owners = {}
            for key, record in records.items():
                self._owners.setdefault(record.owner, {})[self._created[key]] = key

    def _write(self, record: R) -> None:
        old = self._records.get(record.key)
        self._records[record.key] = record  # a replaced key keeps its place
        if old is None:
            self._created[record.key] = number = next(self._numbers)
            self._index(record.owner, number, record.key)
        elif old.owner != record.owner:  # moved: same creation number, new owner
            number = self._created[record.key]
            self._unindex(old.owner, number)
            self._index(record.owner, number, record.key)

    def _index(self, owner: Any, number: int, key: str) -> None:
        keys = self._owners.setdefault(owner, {})
        if keys and number < next(reversed(keys.keys())):  # moved in: keep creation order
            keys[number] = key
            self._owners[owner] = dict(sorted(keys.items()))
        else:
            keys[number] = key

    def _unindex(self, owner: Any, number: int) -> None:
        keys = self._owners[owner]
        del keys[number]
        if not keys:
            del self._owners[owner]


class MemoryStore:
    """:class:`~dockyard.ports.store.Store` in this process's memory."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.tasks = MemoryCollection[TaskRecord](self._lock, TaskRecord.KIND)
        self.services = MemoryCollection[ServiceRecord](self._lock, ServiceRecord.KIND)
        self.endpoints = MemoryCollection[EndpointRecord](self._lock, EndpointRecord.KIND)
        self.training_jobs = MemoryCollection[TrainingJobRecord](self._lock, TrainingJobRecord.KIND)
        self.task_definitions = MemoryCollection[TaskDefinitionRecord](
            self._lock, TaskDefinitionRecord.KIND
        )
        self.repositories = MemoryCollection[RepositoryRecord](self._lock, RepositoryRecord.KIND)
        self.images = MemoryCollection[ImageRecord](self._lock, ImageRecord.KIND)
        self.models = MemoryCollection[ModelRecord](self._lock, ModelRecord.KIND)
        self.endpoint_configs = MemoryCollection[EndpointConfigRecord](
            self._lock, EndpointConfigRecord.KIND
        )
        self.secrets = MemoryCollection[SecretRecord](self._lock, SecretRecord.KIND)
        self.scalable_targets = MemoryCollection[ScalableTargetRecord](
            self._lock, ScalableTargetRecord.KIND
        )
        self.scaling_policies = MemoryCollection[ScalingPolicyRecord](
            self._lock, ScalingPolicyRecord.KIND
        )
        self.scheduled_actions = MemoryCollection[ScheduledActionRecord](
            self._lock, ScheduledActionRecord.KIND
        )
        self.schedules = MemoryCollection[ScheduleRecord](self._lock, ScheduleRecord.KIND)
        self.transform_jobs = MemoryCollection[TransformJobRecord](
            self._lock, TransformJobRecord.KIND
        )
        self.container_instances = MemoryCollection[ContainerInstanceRecord](
            self._lock, ContainerInstanceRecord.KIND
        )
        self.model_package_groups = MemoryCollection[ModelPackageGroupRecord](
            self._lock, ModelPackageGroupRecord.KIND
        )
        self.model_packages = MemoryCollection[ModelPackageRecord](
            self._lock, ModelPackageRecord.KIND
        )
        self.tags = MemoryCollection[TagsRecord](self._lock, TagsRecord.KIND)
        self.metrics = MemoryMetrics()  # not rolled back by transactions: points, not records
        self._events: builtins.list[Event] = []
        self._ids = itertools.count(1)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the store; on an exception put back every record and event as it was.

        Nested transactions roll back only their own writes, like SQLite's savepoints.
        """
        collections: tuple[MemoryCollection[Any], ...] = (
            self.scalable_targets,
            self.scaling_policies,
            self.scheduled_actions,
            self.tasks,
            self.services,
            self.endpoints,
            self.training_jobs,
            self.task_definitions,
            self.repositories,
            self.images,
            self.models,
            self.endpoint_configs,
            self.secrets,
            self.schedules,
            self.transform_jobs,
            self.container_instances,
            self.model_package_groups,
            self.model_packages,
            self.tags,
        )
        with self._lock:
            saved = [(collection, collection.snapshot()) for collection in collections]
            events = len(self._events)
            try:
                yield
            except BaseException:
                for collection, records in saved:
                    collection.restore(records)
                del self._events[events:]
                raise

    def add_event(self, kind: str, name: str, message: str) -> Event:
        with self._lock:
            event = Event(next(self._ids), kind, name, time.time(), message)
            self._events.append(event)
        return event

    def events(
        self, kind: str | None = None, name: str | None = None, after_id: int = 0, limit: int = 200
    ) -> builtins.list[Event]:
        with self._lock:
            found = [
                e
                for e in self._events
                if e.id > after_id
                and (kind is None or e.kind == kind)
                and (name is None or e.name == name)
            ]
        return found[:limit]

    def close(self) -> None:
        return None
