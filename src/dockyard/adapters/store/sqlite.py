"""The store on one SQLite file: records as JSON documents, events in their own table.

Every record is a JSON document keyed by ``(kind, key)`` with its owner indexed
(:mod:`dockyard.records.codec` turns typed records into documents and back).
Documents are small and read whole, so a document store keeps the schema stable while
records grow fields; SQLite gives atomic writes, WAL for concurrent readers, and a
file that survives a daemon restart — the control loop rebuilds everything else from
it. Events (what happened to a resource, in order) live in an append-only table so
that ``dockyard events`` and ``--follow`` can page through them by id.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

from dockyard.adapters.store.metrics import SqliteMetrics
from dockyard.adapters.store.records import Keyed, conflict, not_found
from dockyard.ports.store import Event
from dockyard.records.autoscaling import (
    ScalableTargetRecord,
    ScalingPolicyRecord,
    ScheduledActionRecord,
)
from dockyard.records.codec import from_doc, to_doc
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

log = logging.getLogger("dockyard.store")

R = TypeVar("R", bound=Keyed)

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    owner   TEXT,
    body    TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE INDEX IF NOT EXISTS resources_owner ON resources (kind, owner);
CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT NOT NULL,
    name    TEXT NOT NULL,
    at      REAL NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_resource ON events (kind, name, id);
"""


class Documents:
    """Thread-safe access to the state file (one connection, one lock).

    The daemon's API handlers and its control loop share one connection; writes are
    short transactions, so a single serialised connection is simpler than a pool and
    never sees a half-written document.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._depth = 0  # open transactions; guarded by ``lock``, held while one is open

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for tables kept beside the documents (hold ``lock`` to use it)."""
        return self._db

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE … COMMIT; nested, a savepoint that undoes only its own writes."""
        with self.lock:
            depth = self._depth
            rollback: tuple[str, ...]
            if depth == 0:
                begin, commit, rollback = "BEGIN IMMEDIATE", ("COMMIT",), ("ROLLBACK",)
            else:
                savepoint = f"nested_{depth}"
                begin, commit = f"SAVEPOINT {savepoint}", (f"RELEASE {savepoint}",)
                rollback = (f"ROLLBACK TO {savepoint}", f"RELEASE {savepoint}")
            self._db.execute(begin)
            self._depth = depth + 1
            try:
                yield
            except BaseException:
                self._end(depth, rollback)
                raise
            self._end(depth, commit)

    def _end(self, depth: int, statements: tuple[str, ...]) -> None:
        self._depth = depth
        for statement in statements:
            self._db.execute(statement)

    def insert(self, kind: str, key: str, owner: str | None, body: Any) -> bool:
        """Insert a new document; False if the key is taken."""
        now = time.time()
        with self.lock:
            try:
                self._db.execute(
                    "INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?)",
                    (kind, key, owner, json.dumps(body), now, now),
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def upsert(self, kind: str, key: str, owner: str | None, body: Any) -> None:
        now = time.time()
        with self.lock:
            self._db.execute(
                "INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, "
                "owner = excluded.owner, updated = excluded.updated",
                (kind, key, owner, json.dumps(body), now, now),
            )

    def get(self, kind: str, key: str) -> Any:
        with self.lock:
            row = self._db.execute(
                "SELECT body FROM resources WHERE kind = ? AND name = ?", (kind, key)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def list(self, kind: str, owner: str | None) -> builtins.list[Any]:
        query = "SELECT body FROM resources WHERE kind = ?"
        args: tuple[str, ...] = (kind,)
        if owner is not None:
            query += " AND owner = ?"
            args = (kind, owner)
        with self.lock:
            # rowid, not ``created``: a coarse or stepped-back clock must not reorder records
            rows = self._db.execute(query + " ORDER BY rowid", args).fetchall()
        return [json.loads(row[0]) for row in rows]

    def delete(self, kind: str, key: str) -> bool:
        with self.lock:
            cursor = self._db.execute(
                "DELETE FROM resources WHERE kind = ? AND name = ?", (kind, key)
            )
        return cursor.rowcount > 0

    def add_event(self, kind: str, name: str, message: str) -> Event:
        now = time.time()
        with self.lock:
            cursor = self._db.execute(
                "INSERT INTO events (kind, name, at, message) VALUES (?, ?, ?, ?)",
                (kind, name, now, message),
            )
        return Event(int(cursor.lastrowid or 0), kind, name, now, message)

    def events(
        self, kind: str | None, name: str | None, after_id: int, limit: int
    ) -> builtins.list[Event]:
        query = "SELECT id, kind, name, at, message FROM events WHERE id > ?"
        args: builtins.list[Any] = [after_id]
        if kind is not None:
            query += " AND kind = ?"
            args.append(kind)
        if name is not None:
            query += " AND name = ?"
            args.append(name)
        query += " ORDER BY id LIMIT ?"
        args.append(limit)
        with self.lock:
            rows = self._db.execute(query, args).fetchall()
        return [Event(int(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4])) for r in rows]


class SqliteCollection(Generic[R]):
    """:class:`~dockyard.ports.store.Collection` of one record type on the state file."""

    def __init__(self, documents: Documents, record_type: type[R]) -> None:
        self._docs = documents
        self._type = record_type
        self._kind = record_type.KIND

    def get(self, key: str) -> R | None:
        body = self._docs.get(self._kind, key)
        return None if body is None else from_doc(self._type, body)

    def require(self, key: str) -> R:
        record = self.get(key)
        if record is None:
            raise not_found(self._kind, key)
        return record

    def list(self, owner: str | None = None) -> builtins.list[R]:
        """Every record (of ``owner``). One this version cannot read is logged and left
        out, untouched in the file, so it does not hide all the others."""
        records = []
        for body in self._docs.list(self._kind, owner):
            try:
                records.append(from_doc(self._type, body))
            except (TypeError, KeyError, ValueError) as error:
                log.error(
                    "a stored %s cannot be read by this version of Dockyard and is left "
                    "out (kept in the state file): %s",
                    self._kind,
                    error,
                )
        return records

    def put(self, record: R) -> None:
        self._docs.upsert(self._kind, record.key, record.owner, to_doc(record))

    def create(self, record: R) -> None:
        if not self._docs.insert(self._kind, record.key, record.owner, to_doc(record)):
            raise conflict(self._kind, record.key)

    def delete(self, key: str) -> bool:
        return self._docs.delete(self._kind, key)


class SqliteStore:
    """:class:`~dockyard.ports.store.Store` on one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._docs = Documents(path)
        self.tasks = SqliteCollection(self._docs, TaskRecord)
        self.services = SqliteCollection(self._docs, ServiceRecord)
        self.endpoints = SqliteCollection(self._docs, EndpointRecord)
        self.training_jobs = SqliteCollection(self._docs, TrainingJobRecord)
        self.task_definitions = SqliteCollection(self._docs, TaskDefinitionRecord)
        self.repositories = SqliteCollection(self._docs, RepositoryRecord)
        self.images = SqliteCollection(self._docs, ImageRecord)
        self.models = SqliteCollection(self._docs, ModelRecord)
        self.endpoint_configs = SqliteCollection(self._docs, EndpointConfigRecord)
        self.secrets = SqliteCollection(self._docs, SecretRecord)
        self.scalable_targets = SqliteCollection(self._docs, ScalableTargetRecord)
        self.scaling_policies = SqliteCollection(self._docs, ScalingPolicyRecord)
        self.scheduled_actions = SqliteCollection(self._docs, ScheduledActionRecord)
        self.schedules = SqliteCollection(self._docs, ScheduleRecord)
        self.transform_jobs = SqliteCollection(self._docs, TransformJobRecord)
        self.container_instances = SqliteCollection(self._docs, ContainerInstanceRecord)
        self.model_package_groups = SqliteCollection(self._docs, ModelPackageGroupRecord)
        self.model_packages = SqliteCollection(self._docs, ModelPackageRecord)
        self.tags = SqliteCollection(self._docs, TagsRecord)
        self.metrics = SqliteMetrics(self._docs)

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self._docs.transaction()

    def add_event(self, kind: str, name: str, message: str) -> Event:
        return self._docs.add_event(kind, name, message)

    def events(
        self, kind: str | None = None, name: str | None = None, after_id: int = 0, limit: int = 200
    ) -> builtins.list[Event]:
        return self._docs.events(kind, name, after_id, limit)

    def close(self) -> None:
        self._docs.close()
