"""Every task's output of a service (or of one task), shown and followed.

``dockyard logs service/NAME`` prints the last lines of each running task's
containers, then those kept from recently stopped tasks (:mod:`.task_output` keeps a
removed container's tail), each line prefixed by its task. With ``follow`` it goes on:
one reader thread per container (the engine's follow stream) feeds a queue, and each
:data:`RESCAN_S` the service's containers are listed again so tasks that start later
(a replacement, a scale-out, a new revision) are followed from their first line.

A quiet follow still yields ``None`` every :data:`RESCAN_S` (the route writes an empty
line, which clients skip): a generator that never yields keeps its server thread in
``next()`` forever, so neither a client that left nor the daemon's shutdown could end
it. The stream ends when the client goes away; readers end with their containers, or
at their next line after the client left.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from dockyard.control.log_follow import LineBuffer, Stream, last_lines, prefix, to_follow
from dockyard.errors import DockyardError
from dockyard.server.containers import TASK_LABEL
from dockyard.server.tasks import TaskRunner

RESCAN_S = 1.0
Item = dict[str, Any]


def _item(stream: Stream, line: str, *, stopped: bool = False) -> Item:
    return {
        "task": stream.task_id,
        "container": stream.container,
        "prefix": prefix(stream.task_id, stream.container),
        "line": line,
        "stopped": stopped,
    }


class LogView:
    """The output of the containers that ``streams()`` lists, and of ``kept`` files."""

    def __init__(
        self,
        tasks: TaskRunner,
        streams: Callable[[], list[Stream]],
        kept: Callable[[], list[tuple[str, str, list[str]]]],
    ) -> None:
        self.tasks = tasks
        self.streams = streams
        self.kept = kept

    def lines(self, tail: int, follow: bool) -> Iterator[Item | None]:
        """The last ``tail`` lines of each container; then, with ``follow``, new lines,
        and ``None`` whenever :data:`RESCAN_S` passed without one (see module doc)."""
        shown: dict[str, int] = {}
        present = self.streams()
        for stream in present:
            lines = self._read(stream)
            shown[stream.container_id] = len(lines)
            for line in last_lines(lines, tail):
                yield _item(stream, line)
        for task_id, container, lines in self.kept():
            gone = Stream(task_id, container, "")
            for line in last_lines(lines, tail):
                yield _item(gone, line, stopped=True)
        if follow:
            yield from self._follow(present, shown)

    def _read(self, stream: Stream) -> list[str]:
        buffer = LineBuffer()
        lines: list[str] = []
        try:
            for chunk in self.tasks.engine.logs(stream.container_id):
                lines += buffer.feed(chunk.decode(errors="replace"))
        except DockyardError:
            return lines
        return lines + buffer.close()

    def _follow(self, present: list[Stream], shown: dict[str, int]) -> Iterator[Item | None]:
        out: queue.Queue[Item] = queue.Queue(maxsize=10_000)
        gone = threading.Event()
        followed: list[str] = []
        try:
            while True:
                for stream in to_follow(followed, present):
                    followed.append(stream.container_id)
                    skip = shown.get(stream.container_id, 0)
                    reader = threading.Thread(
                        target=self._reader, args=(stream, skip, out, gone), daemon=True
                    )
                    reader.start()
                try:
                    yield out.get(timeout=RESCAN_S)
                    while True:
                        yield out.get_nowait()
                except queue.Empty:
                    yield None
                present = self.streams()
        finally:
            gone.set()

    def _reader(
        self, stream: Stream, skip: int, out: queue.Queue[Item], gone: threading.Event
    ) -> None:
        buffer = LineBuffer(skip=skip)
        try:
            for chunk in self.tasks.engine.logs(stream.container_id, follow=True):
                for line in buffer.feed(chunk.decode(errors="replace")):
                    out.put(_item(stream, line))
                if gone.is_set():
                    return
        except DockyardError:
            pass
        for line in buffer.close():
            out.put(_item(stream, line))


def owner_view(tasks: TaskRunner, owner: str) -> LogView:
    """Every task of ``owner`` (``service/NAME``): listed, then kept after removal."""

    def streams() -> list[Stream]:
        return [
            Stream(task_id, container, state.id)
            for task_id, containers in tasks.observe_owner(owner).items()
            for container, state in containers.items()
        ]

    def kept() -> list[tuple[str, str, list[str]]]:
        return [(*_split_stem(stem), lines) for stem, lines in tasks.output.kept(owner)]

    return LogView(tasks, streams, kept)


def task_view(tasks: TaskRunner, task_id: str) -> LogView:
    """One task: its containers while they exist, else the tail kept at removal."""

    def streams() -> list[Stream]:
        return [
            Stream(state.labels.get(TASK_LABEL, task_id), name, state.id)
            for name, state in tasks.observe_task(task_id).items()
        ]

    def kept() -> list[tuple[str, str, list[str]]]:
        if tasks.observe_task(task_id):
            return []
        found: list[tuple[str, str, list[str]]] = []
        for path in sorted(tasks.output.root.glob(f"*/{task_id}-*.log")):
            container = path.stem.removeprefix(f"{task_id}-")
            found.append((task_id, container, path.read_text(errors="replace").splitlines()))
        return found

    return LogView(tasks, streams, kept)


def _split_stem(stem: str) -> tuple[str, str]:
    """``TASKID-container`` as :meth:`TaskOutput.keep` names files (task ids hold no -)."""
    task_id, _, container = stem.partition("-")
    return task_id, container
