"""The output of tasks that run to completion, copied to files as it is written.

Containers are removed when their run ends, so their output is copied to a file
while they run (one thread per container, following the engine's log stream; see
:class:`~dockyard.server.runs.Runs` for where the files live). A ``.done`` marker
says the copy is complete. Copies stop at :data:`LOG_LIMIT_BYTES` with a note, so a
script that floods its output costs disk space only up to a bound and never the
daemon.

A copy may also hand each complete line, with the time the engine stamped on it, to
a :class:`LineWatcher` (training metrics are read this way). The engine's stamps are
stripped from the file, and they keep a line's time true when a restarted daemon
copies a container's output again from its first line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from dockyard.errors import DockyardError
from dockyard.ports.engine import Engine

log = logging.getLogger("dockyard.runs")

LOG_LIMIT_BYTES = 64 * 1024 * 1024
FOLLOW_POLL_S = 0.2


def done_marker(path: Path) -> Path:
    return path.with_suffix(".done")


class LineWatcher(Protocol):
    """Told about a copy's lines: ``start`` when a copy begins (from the first line),
    then each complete line with its time (Unix seconds)."""

    def start(self) -> None: ...

    def line(self, text: str, at: float) -> None: ...


def split_stamp(frame: bytes) -> tuple[float | None, bytes]:
    """``(time, rest)`` of a frame the engine stamped (``2026-12-01T05:30:00.123456789Z
    text``); ``(None, frame)`` when it carries no stamp."""
    stamp, space, rest = frame.partition(b" ")
    if not space or len(stamp) < 20 or stamp[4:5] != b"-" or stamp[10:11] != b"T":
        return None, frame
    text = stamp.decode("ascii", errors="replace")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, dot, tail = text.partition(".")
    if dot:  # nanoseconds: Python reads at most microseconds
        digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
        text = head + "." + digits[:6] + tail[len(digits) :]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None, frame
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp(), rest


class _Lines:
    """Complete lines out of frames that may end mid-line."""

    def __init__(self, watcher: LineWatcher) -> None:
        self.watcher = watcher
        self.pending = b""

    def feed(self, data: bytes, at: float) -> None:
        *complete, self.pending = (self.pending + data).split(b"\n")
        for line in complete:
            self.watcher.line(line.decode(errors="replace").rstrip("\r"), at)

    def close(self, at: float) -> None:
        if self.pending:
            self.watcher.line(self.pending.decode(errors="replace"), at)
            self.pending = b""


def copy_logs(
    engine: Engine,
    container_id: str,
    path: Path,
    limit: int = LOG_LIMIT_BYTES,
    watcher: LineWatcher | None = None,
) -> None:
    """Follow a container's output into ``path`` until it exits (or ``limit`` is hit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    lines = _Lines(watcher) if watcher is not None else None
    at = time.time()
    try:
        if watcher is not None:
            watcher.start()
        with path.open("wb") as out:
            for frame in engine.logs(container_id, follow=True, timestamps=True):
                stamped, chunk = split_stamp(frame)
                at = stamped if stamped is not None else time.time()
                if written + len(chunk) > limit:
                    out.write(f"\n[dockyard: log copy stopped at {limit} bytes]\n".encode())
                    break
                out.write(chunk)
                out.flush()
                written += len(chunk)
                if lines is not None:
                    lines.feed(chunk, at)
    except DockyardError as error:
        log.warning("log copy for %s stopped: %s", path.name, error)
    finally:
        if lines is not None:
            lines.close(at)
        done_marker(path).touch()


class LogCopier:
    """One copying thread per container, started once and again after a daemon restart
    (the copy then starts over from the container's first line)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._threads: dict[str, threading.Thread] = {}

    def copying(self, container_id: str) -> bool:
        thread = self._threads.get(container_id)
        return thread is not None and thread.is_alive()

    def follow(self, container_id: str, path: Path, watcher: LineWatcher | None = None) -> None:
        thread = self._threads.get(container_id)
        if (thread is not None and thread.is_alive()) or done_marker(path).exists():
            return
        thread = threading.Thread(
            target=copy_logs,
            args=(self.engine, container_id, path, LOG_LIMIT_BYTES, watcher),
            daemon=True,
        )
        self._threads[container_id] = thread
        thread.start()


def read_lines(
    paths: dict[str, Path],
    follow: bool,
    status: Callable[[], tuple[str, bool]],
    *,
    settle_s: float = 0.0,
) -> Iterator[dict[str, Any]]:
    """``{host, line}`` for every host's lines; when following, ``{status}`` on changes
    and more lines until ``status()`` says the job is done and every copy is complete.

    ``settle_s``: the runs have ended, so wait up to that long for their copies to
    complete first (a job's status can turn final a moment before the last lines of
    its output are copied).
    """
    deadline = time.monotonic() + settle_s
    while not _all_done(paths.values()) and time.monotonic() < deadline:
        time.sleep(FOLLOW_POLL_S / 4)
    offsets = dict.fromkeys(paths, 0)
    last_status = None
    while True:
        finished = _all_done(paths.values())
        for host, path in paths.items():
            if not path.exists():
                continue
            with path.open("rb") as handle:
                handle.seek(offsets[host])
                data = handle.read()
            # a partial last line waits for its newline, unless the copy is complete
            end = len(data) if done_marker(path).exists() else data.rfind(b"\n") + 1
            offsets[host] += end
            for line in data[:end].decode(errors="replace").splitlines():
                yield {"host": host, "line": line}
        if not follow:
            return
        text, job_done = status()
        if text != last_status:
            last_status = text
            yield {"status": text}
        if job_done and finished:
            return
        time.sleep(FOLLOW_POLL_S)


def _all_done(paths: Iterable[Path]) -> bool:
    return all(not path.exists() or done_marker(path).exists() for path in paths)
