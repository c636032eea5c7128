"""Desired and observed state in one SQLite file.

Every resource is a JSON document keyed by ``(kind, name)``: training jobs, models,
endpoint configs, endpoints, services, tasks, task definitions. Documents are small
and read whole, so a document store keeps the schema stable while the resources
grow fields; SQLite gives atomic writes, WAL for concurrent readers, and a file that
survives a daemon restart — the reconcile loop rebuilds everything else from it.

Events (what happened to a resource, in order) live in their own append-only table
so that ``dockyard events`` and ``--follow`` can page through them by id.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, NotFound

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


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    name: str
    at: float
    message: str


class Store:
    """Thread-safe access to the state file (one connection, one lock).

    The daemon's API handlers and its reconcile loop share one ``Store``; writes are
    short transactions, so a single serialised connection is simpler than a pool and
    never sees a half-written document.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes so they land together or not at all."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # documents -----------------------------------------------------------------

    def create(self, kind: str, name: str, body: dict[str, Any], owner: str | None = None) -> None:
        """Insert a new document; :class:`Conflict` if the name is taken."""
        now = time.time()
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?)",
                    (kind, name, owner, json.dumps(body), now, now),
                )
            except sqlite3.IntegrityError:
                raise Conflict(
                    f"a {kind} named {name!r} already exists",
                    resource=f"{kind}/{name}",
                    hint=f"choose another name, or delete the existing {kind} first",
                ) from None

    def put(self, kind: str, name: str, body: dict[str, Any], owner: str | None = None) -> None:
        """Insert or replace a document."""
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, "
                "owner = excluded.owner, updated = excluded.updated",
                (kind, name, owner, json.dumps(body), now, now),
            )

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM resources WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def require(self, kind: str, name: str) -> dict[str, Any]:
        """Like :meth:`get`, but a missing document is the user's :class:`NotFound`."""
        body = self.get(kind, name)
        if body is None:
            raise NotFound(
                f"no {kind} named {name!r}",
                resource=f"{kind}/{name}",
                hint=f"list what exists with `dockyard {kind.replace('_', '-')}s`",
            )
        return body

    def list(self, kind: str, owner: str | None = None) -> list[dict[str, Any]]:
        """All documents of a kind (optionally of one owner), oldest first."""
        query = "SELECT body FROM resources WHERE kind = ?"
        args: tuple[str, ...] = (kind,)
        if owner is not None:
            query += " AND owner = ?"
            args = (kind, owner)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created, name", args).fetchall()
        return [dict(json.loads(row[0])) for row in rows]

    def delete(self, kind: str, name: str) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM resources WHERE kind = ? AND name = ?", (kind, name)
            )
        return cursor.rowcount > 0

    # events --------------------------------------------------------------------

    def add_event(self, kind: str, name: str, message: str) -> Event:
        now = time.time()
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO events (kind, name, at, message) VALUES (?, ?, ?, ?)",
                (kind, name, now, message),
            )
        return Event(int(cursor.lastrowid or 0), kind, name, now, message)

    def events(
        self, kind: str | None = None, name: str | None = None, after_id: int = 0, limit: int = 200
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
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [Event(int(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4])) for r in rows]
