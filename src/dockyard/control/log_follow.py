"""Following many containers' output at once (pure): what to follow, how lines read.

``dockyard logs service/NAME -f`` shows every task of a service, and tasks come and
go while it runs. Each pass the server lists the service's containers; :func:`to_follow`
says which ones are new (each container is followed once, from its first line, so a
task started after the command began is shown whole). :class:`LineBuffer` turns the
engine's frames, which may split a long line, back into whole lines, so lines are
counted the same way by the tail shown first and the follow that continues it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stream:
    """One container's output: which task, which container, its engine id."""

    task_id: str
    container: str
    container_id: str


def prefix(task_id: str, container: str) -> str:
    """How a line is labelled: the task id as ``dockyard tasks`` shows it, and the
    container (tasks of several containers interleave otherwise)."""
    return f"{task_id[:12]}/{container}"


def to_follow(followed: Iterable[str], present: Iterable[Stream]) -> list[Stream]:
    """The streams not followed yet (by container id), in the order they were listed."""
    seen = set(followed)
    new: list[Stream] = []
    for stream in present:
        if stream.container_id not in seen:
            seen.add(stream.container_id)
            new.append(stream)
    return new


def last_lines(lines: list[str], tail: int) -> list[str]:
    """The last ``tail`` lines (none for 0 or less: ``--tail 0`` shows only new ones)."""
    return lines[-tail:] if tail > 0 else []


@dataclass
class LineBuffer:
    """Whole lines out of frames; ``skip`` drops the first lines (already shown)."""

    skip: int = 0
    _partial: str = field(default="", repr=False)

    def feed(self, chunk: str) -> list[str]:
        """Whole lines completed by ``chunk``, less any still to skip."""
        *whole, self._partial = (self._partial + chunk).split("\n")
        return self._drop(whole)

    def close(self) -> list[str]:
        """The last line if the output did not end with a newline."""
        rest, self._partial = self._partial, ""
        return self._drop([rest] if rest else [])

    def _drop(self, lines: list[str]) -> list[str]:
        skipped = min(self.skip, len(lines))
        self.skip -= skipped
        return [line.rstrip("\r") for line in lines[skipped:]]
