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
copies a container's output again from its first line. Each line's time is also kept
beside the copy (:func:`times_path`: one time in milliseconds per line), so the log
can be read back as timed events, the way CloudWatch Logs serves a job's output.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from dockyard.errors import DockyardError
from dockyard.ports.engine import Engine

log = logging.getLogger("dockyard.runs")

LOG_LIMIT_BYTES = 64 * 1024 * 1024
FOLLOW_POLL_S = 0.2


def done_marker(path: Path) -> Path:
    return path.with_suffix(".done")


def times_path(path: Path) -> Path:
    """The copy's line times: line N of this file is line N's time, in Unix ms."""
    return path.with_suffix(".times")


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


class _LineTimes:
    """Writes each line's time beside the copy (started over with the copy)."""

    def __init__(self, path: Path) -> None:
        self.path = times_path(path)
        self.out: IO[str] | None = None

    def start(self) -> None:
        self.out = self.path.open("w")

    def line(self, text: str, at: float) -> None:
        if self.out is not None:
            self.out.write(f"{round(at * 1000)}\n")

    def flush(self) -> None:
        """Once per frame copied, not per line (a line not flushed yet reads as timed
        by the copy's modification time meanwhile)."""
        if self.out is not None:
            self.out.flush()

    def close(self) -> None:
        if self.out is not None:
            self.out.close()


class _Both:
    """Hands every line to two watchers."""

    def __init__(self, first: LineWatcher, second: LineWatcher) -> None:
        self.first, self.second = first, second

    def start(self) -> None:
        self.first.start()
        self.second.start()

    def line(self, text: str, at: float) -> None:
        self.first.line(text, at)
        self.second.line(text, at)


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
    times = _LineTimes(path)
    lines = _Lines(times if watcher is None else _Both(times, watcher))
    at = time.time()
    try:
        lines.watcher.start()
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
                lines.feed(chunk, at)
                times.flush()
    except DockyardError as error:
        log.warning("log copy for %s stopped: %s", path.name, error)
    finally:
        lines.close(at)
        times.close()
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


def timed_lines(path: Path) -> list[tuple[int, str]]:
    """``(time in Unix ms, text)`` of every line copied so far; a partial last line only
    once the copy is complete (as :func:`read_lines`). A line whose time was not kept (a
    copy made before times were) takes the file's modification time."""
    try:
        data = path.read_bytes()
        modified = round(path.stat().st_mtime * 1000)
    except FileNotFoundError:
        return []
    texts = data.split(b"\n")
    if texts[-1] == b"" or not done_marker(path).exists():
        texts.pop()
    try:
        stamps = [int(t) for t in times_path(path).read_text().split()]
    except (FileNotFoundError, ValueError):
        stamps = []
    return [
        (stamps[i] if i < len(stamps) else modified, text.decode(errors="replace").rstrip("\r"))
        for i, text in enumerate(texts)
    ]


class _Collected:
    """A :class:`LineWatcher` that keeps every line with its time in ms."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []

    def start(self) -> None:
        self.lines.clear()

    def line(self, text: str, at: float) -> None:
        self.lines.append((round(at * 1000), text))


def engine_lines(engine: Engine, container_id: str) -> list[tuple[int, str]]:
    """``(time in Unix ms, text)`` of every line a container printed so far, read from
    the engine with the times it stamped (empty once the container is gone)."""
    collected = _Collected()
    lines = _Lines(collected)
    at = time.time()
    try:
        for frame in engine.logs(container_id, timestamps=True):
            stamped, chunk = split_stamp(frame)
            at = stamped if stamped is not None else time.time()
            lines.feed(chunk, at)
    except DockyardError:
        return collected.lines
    lines.close(at)
    return collected.lines
