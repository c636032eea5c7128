"""The :class:`~dockyard.ports.metrics.MetricStore` port: on SQLite, and in memory."""

from __future__ import annotations

import builtins
import threading
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dockyard.ports.metrics import MAX_POINTS, MetricPoint

if TYPE_CHECKING:
    from dockyard.adapters.store.sqlite import Documents

SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_points (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    series TEXT NOT NULL,
    source TEXT NOT NULL,
    name   TEXT NOT NULL,
    at     REAL NOT NULL,
    value  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_points_series ON metric_points (series, source, name, id);
CREATE INDEX IF NOT EXISTS metric_points_at ON metric_points (at);
"""


class SqliteMetrics:
    """Points in their own table of the state file, sharing the store's connection."""

    def __init__(self, docs: Documents, max_points: int = MAX_POINTS) -> None:
        self._docs = docs
        self._max = max_points
        with docs.lock:
            docs.db.executescript(SCHEMA)

    def add(self, points: Sequence[MetricPoint]) -> None:
        if not points:
            return
        keys = {(p.series, p.source, p.name) for p in points}
        with self._docs.transaction():
            self._docs.db.executemany(
                "INSERT INTO metric_points (series, source, name, at, value) "
                "VALUES (?, ?, ?, ?, ?)",
                [(p.series, p.source, p.name, p.at, p.value) for p in points],
            )
            for key in keys:
                self._docs.db.execute(
                    "DELETE FROM metric_points WHERE series = ? AND source = ? AND name = ? "
                    "AND id <= (SELECT id FROM metric_points WHERE series = ? AND source = ? "
                    "AND name = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (*key, *key, self._max),
                )

    def points(self, series: str, *, since: float | None = None) -> builtins.list[MetricPoint]:
        query = "SELECT source, name, at, value FROM metric_points WHERE series = ?"
        args: builtins.list[object] = [series]
        if since is not None:
            query += " AND at > ?"
            args.append(since)
        with self._docs.lock:
            rows = self._docs.db.execute(query + " ORDER BY id", args).fetchall()
        return [MetricPoint(series, str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]

    def clear(self, series: str, source: str | None = None) -> int:
        query, args = "DELETE FROM metric_points WHERE series = ?", [series]
        if source is not None:
            query += " AND source = ?"
            args.append(source)
        with self._docs.lock:
            return self._docs.db.execute(query, args).rowcount

    def prune(self, before: float) -> int:
        with self._docs.lock:
            return self._docs.db.execute(
                "DELETE FROM metric_points WHERE at < ?", (before,)
            ).rowcount

    def latest(self, series: str) -> builtins.list[MetricPoint]:
        with self._docs.lock:
            rows = self._docs.db.execute(
                "SELECT source, name, at, value FROM metric_points WHERE id IN "
                "(SELECT MAX(id) FROM metric_points WHERE series = ? GROUP BY source, name) "
                "ORDER BY source, name",
                (series,),
            ).fetchall()
        return [MetricPoint(series, str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows]


class MemoryMetrics:
    """Points in this process's memory, with the same bound per metric."""

    def __init__(self, max_points: int = MAX_POINTS) -> None:
        self._lock = threading.Lock()
        self._max = max_points
        self._seq = 0
        self._by_key: dict[tuple[str, str, str], deque[tuple[int, MetricPoint]]] = defaultdict(
            lambda: deque(maxlen=self._max)
        )

    def add(self, points: Sequence[MetricPoint]) -> None:
        with self._lock:
            for point in points:
                self._seq += 1
                self._by_key[(point.series, point.source, point.name)].append((self._seq, point))

    def points(self, series: str, *, since: float | None = None) -> builtins.list[MetricPoint]:
        with self._lock:
            found = [
                item
                for key, items in self._by_key.items()
                if key[0] == series
                for item in items
                if since is None or item[1].at > since
            ]
        return [point for _, point in sorted(found, key=lambda item: item[0])]

    def clear(self, series: str, source: str | None = None) -> int:
        with self._lock:
            keys = [k for k in self._by_key if k[0] == series and source in (None, k[1])]
            return sum(len(self._by_key.pop(key)) for key in keys)

    def prune(self, before: float) -> int:
        with self._lock:
            gone = 0
            for key, items in list(self._by_key.items()):
                kept = deque((i for i in items if i[1].at >= before), maxlen=self._max)
                gone += len(items) - len(kept)
                if kept:
                    self._by_key[key] = kept
                else:
                    del self._by_key[key]
            return gone

    def latest(self, series: str) -> builtins.list[MetricPoint]:
        with self._lock:
            newest = [items[-1][1] for key, items in self._by_key.items() if key[0] == series]
        return sorted(newest, key=lambda p: (p.source, p.name))
