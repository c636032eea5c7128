"""The output of tasks that run to completion, copied to files as it is written.

Containers are removed when their run ends, so their output is copied to a file
while they run (one thread per container, following the engine's log stream; see
:class:`~dockyard.server.runs.Runs` for where the files live). A ``.done`` marker
says the copy is complete. Copies stop at :data:`LOG_LIMIT_BYTES` with a note, so a
script that floods its output costs disk space only up to a bound and never the
daemon.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from dockyard.errors import DockyardError
from dockyard.ports.engine import Engine

log = logging.getLogger("dockyard.runs")

LOG_LIMIT_BYTES = 64 * 1024 * 1024
FOLLOW_POLL_S = 0.2


def done_marker(path: Path) -> Path:
    return path.with_suffix(".done")


def copy_logs(engine: Engine, container_id: str, path: Path, limit: int = LOG_LIMIT_BYTES) -> None:
    """Follow a container's output into ``path`` until it exits (or ``limit`` is hit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with path.open("wb") as out:
            for chunk in engine.logs(container_id, follow=True):
                if written + len(chunk) > limit:
                    out.write(f"\n[dockyard: log copy stopped at {limit} bytes]\n".encode())
                    break
                out.write(chunk)
                out.flush()
                written += len(chunk)
    except DockyardError as error:
        log.warning("log copy for %s stopped: %s", path.name, error)
    finally:
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

    def follow(self, container_id: str, path: Path) -> None:
        thread = self._threads.get(container_id)
        if (thread is not None and thread.is_alive()) or done_marker(path).exists():
            return
        thread = threading.Thread(
            target=copy_logs, args=(self.engine, container_id, path), daemon=True
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
