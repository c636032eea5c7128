"""What tasks' containers printed: live from the engine, kept after they are gone.

A stopped task's containers are removed, but the reason a replica crashed is usually
in its last lines of output. So before removal the tail of each container's output
(:data:`TAIL_BYTES`) is written to ``<logs>/tasks/<owner>/<task>-<container>.log``,
and only the newest :data:`KEEP_STOPPED` of an owner are kept: bounded disk, and the
recent crashes stay readable (``dockyard logs endpoint/NAME``).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from dockyard.errors import DockyardError
from dockyard.ports.engine import ContainerState, Engine
from dockyard.settings import Settings

TAIL_BYTES = 256 * 1024
KEEP_STOPPED = 20


def output_root(settings: Settings) -> Path:
    """Where the tails of removed containers are kept."""
    return settings.logs_dir / "tasks"


def _safe(owner: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", owner)


class TaskOutput:
    def __init__(self, engine: Engine, root: Path) -> None:
        self.engine = engine
        self.root = root

    def tail(self, state: ContainerState) -> bytes | None:
        """The last :data:`TAIL_BYTES` of a container's output (None if unreadable)."""
        tail: deque[bytes] = deque()
        size = 0
        try:
            for chunk in self.engine.logs(state.id):
                tail.append(chunk)
                size += len(chunk)
                while size > TAIL_BYTES and len(tail) > 1:
                    size -= len(tail.popleft())
        except DockyardError:
            return None
        return b"".join(tail)[-TAIL_BYTES:]

    def keep(self, owner: str, task_id: str, container: str, tail: bytes) -> None:
        """Save a removed container's last output (only the newest per owner are kept)."""
        directory = self.root / _safe(owner)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{task_id}-{_safe(container)}.log").write_bytes(tail)
        kept = sorted(directory.glob("*.log"), key=lambda p: p.stat().st_mtime)
        for old in kept[:-KEEP_STOPPED]:
            old.unlink(missing_ok=True)

    def live(self, task_id: str, state: ContainerState) -> Iterator[str]:
        """A running (or not yet removed) container's output, line by line."""
        try:
            text = b"".join(self.engine.logs(state.id)).decode(errors="replace")
        except DockyardError:
            return
        yield from text.splitlines()

    def kept(self, owner: str) -> Iterator[tuple[str, list[str]]]:
        """``(task-container, lines)`` of an owner's removed containers, oldest first."""
        for _, _, path in kept_files(self.root, owner):
            yield path.stem, path.read_text(errors="replace").splitlines()


def kept_files(root: Path, owner: str) -> list[tuple[str, str, Path]]:
    """``(task id, container, file)`` of the tails kept for ``owner``'s removed
    containers, oldest first (see :meth:`TaskOutput.keep`; task ids hold no ``-``)."""
    directory = root / _safe(owner)
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.log"), key=lambda p: p.stat().st_mtime):
        task_id, _, container = path.stem.partition("-")
        found.append((task_id, container, path))
    return found
