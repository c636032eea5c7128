"""Tasks that run to completion, for any owner: launch, follow, judge, reap.

Training hosts use it today; batch-transform workers and one-off ECS ``RunTask`` are
the same thing with another owner. Written once here:

* **registered task definitions**: every run's definition is registered (``family:N``)
  before its task starts, so a task's ``taskDefinition`` always resolves;
* **one log capture**: each container's output is copied to
  ``<logs>/runs/<owner>/<run>/<container>.log`` while it runs, bounded, and kept after
  the container is removed;
* **exit codes to status**: :func:`dockyard.control.runs.run_outcome`;
* **one reap policy**: :func:`dockyard.control.runs.reapable` — a run goes once it has
  stopped, its owner has collected its result, and its output copy is complete.

Each run has a name unique within its owner (a training host's ``algo-1``), carried
as a container label so a restarted daemon maps tasks back to runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from dockyard.control.runs import RunOutcome, reapable, run_outcome
from dockyard.control.task import StopCode
from dockyard.ports.store import Store
from dockyard.records.placement import Placement
from dockyard.records.task import TaskRecord
from dockyard.server import task_definitions
from dockyard.server.run_logs import LineWatcher, LogCopier, done_marker, read_lines
from dockyard.server.tasks import TaskRunner
from dockyard.settings import Settings
from dockyard.spec.task_definition import TaskDefinition

RUN_LABEL = "dockyard.run"
SETTLE_S = 10.0  # longest wait for a finished run's output copy


def _safe(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-") or "run"


def logs_root(settings: Settings) -> Path:
    """Where every run's output copies live."""
    return settings.logs_dir / "runs"


def owner_logs(root: Path, owner: str) -> Path:
    """The folder of ``owner``'s runs' output copies (one folder per run inside)."""
    return root / _safe(owner)


def log_path(root: Path, owner: str, name: str, container: str) -> Path:
    """The copy of one container's output in one run of ``owner``."""
    return owner_logs(root, owner) / _safe(name) / f"{_safe(container)}.log"


def run_name(record: TaskRecord) -> str:
    return record.placement.labels.get(RUN_LABEL, record.task.task_id)


class Runs:
    def __init__(self, tasks: TaskRunner, store: Store, logs_root: Path) -> None:
        self.tasks = tasks
        self.store = store
        self.logs_root = logs_root
        self.copier = LogCopier(tasks.engine)

    def launch(
        self,
        owner: str,
        name: str,
        definition: TaskDefinition,
        placement: Placement,
        now: float,
    ) -> TaskRecord:
        """Register ``definition`` (or reuse its identical latest revision) and start a run."""
        revision = task_definitions.ensure_registered(self.store, definition)
        labelled = replace(placement, labels={**placement.labels, RUN_LABEL: name})
        return self.tasks.create(owner, definition, revision, labelled, now=now)

    def step(
        self,
        owner: str,
        now: float,
        watch: Callable[[str], LineWatcher | None] | None = None,
    ) -> dict[str, TaskRecord]:
        """Observe and advance every run of ``owner``; keep copying their output.

        ``watch``: for a run's name, who reads its output's lines as they are copied.
        """
        seen = self.tasks.observe_owner(owner)
        runs: dict[str, TaskRecord] = {}
        for stored in self.tasks.records(owner):
            containers = seen.get(stored.task.task_id, {})
            record = self.tasks.step(stored, containers, now)
            name = run_name(record)
            for container in record.task.containers:
                path = self.log_path(owner, name, container.name)
                state = containers.get(container.name)
                if state is not None:
                    watcher = watch(name) if watch is not None else None
                    self.copier.follow(state.id, path, watcher)
                elif container.created:  # gone before its output could be copied
                    path.parent.mkdir(parents=True, exist_ok=True)
                    done_marker(path).touch()
            runs[name] = record
        return runs

    @staticmethod
    def outcome(record: TaskRecord) -> RunOutcome:
        return run_outcome(record.task)

    def stop(self, record: TaskRecord, code: StopCode, reason: str, now: float) -> TaskRecord:
        return self.tasks.request_stop(record, code, reason, now)

    def reap(self, owner: str, *, result_collected: bool) -> bool:
        """Reap the owner's runs that may go; True once none is left."""
        left = 0
        for record in self.tasks.records(owner):
            copied = all(
                done_marker(self.log_path(owner, run_name(record), c.name)).exists()
                or c.container_id is None
                for c in record.task.containers
            )
            if reapable(record.task, result_collected=result_collected) and copied:
                self.tasks.reap(record)
            else:
                left += 1
        return left == 0

    # -- output ---------------------------------------------------------------------------

    def log_path(self, owner: str, name: str, container: str) -> Path:
        return log_path(self.logs_root, owner, name, container)

    def log_lines(
        self,
        owner: str,
        names: Sequence[str],
        container: str,
        follow: bool,
        status: Callable[[], tuple[str, bool]],
        *,
        ended: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """``{host, line}`` of each run's container, in order; see :func:`read_lines`.

        ``ended``: the runs are over, so their copies are awaited briefly first.
        """
        paths = {name: self.log_path(owner, name, container) for name in names}
        yield from read_lines(paths, follow, status, settle_s=SETTLE_S if ended else 0.0)
