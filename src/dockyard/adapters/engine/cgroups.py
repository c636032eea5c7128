"""Task cgroups: one cgroup per task that bounds all of its containers together.

ECS enforces a task's size (Fargate's ``cpu``/``memory``) on the task as a whole: the
ECS agent makes a cgroup per task and starts every container inside it. Dockyard does
the same with the engine's ``CgroupParent``: it makes ``/dockyard/<task>`` with the
limits, and the engine nests each container's own cgroup below it, so the kernel
counts the containers together (a task over its memory is OOM-killed even when each
container alone is under).

This works where Dockyard writes the cgroup filesystem the engine uses: a local
engine (unix socket) with the ``cgroupfs`` driver, on cgroup v1 (one hierarchy per
controller: ``memory.limit_in_bytes``, ``cpu.cfs_quota_us``) or v2 (one tree:
``memory.max``, ``cpu.max``, controllers enabled down the path). With the ``systemd``
driver the parent must be a slice that systemd manages, and a remote engine's
cgroups are on another host: there :func:`support` says no and the caller bounds each
container instead (see :mod:`dockyard.control.task_limits`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Literal

ROOT = Path("/sys/fs/cgroup")
PARENT = "dockyard"
CFS_PERIOD_US = 100_000
V1_CONTROLLERS = ("memory", "cpu")

Version = Literal["v1", "v2"]


def support(info: dict[str, Any], base_url: str, root: Path = ROOT) -> Version | None:
    """The cgroup version Dockyard can make task cgroups on for this engine, or None."""
    if not base_url.startswith("unix://") or str(info.get("CgroupDriver", "")) != "cgroupfs":
        return None
    version = str(info.get("CgroupVersion", "1"))
    if version == "2":
        ok = (root / "cgroup.subtree_control").is_file() and os.access(root, os.W_OK)
        return "v2" if ok else None
    ok = all(os.access(root / c, os.W_OK) for c in V1_CONTROLLERS)
    return "v1" if ok else None


class TaskCgroups:
    """Make and remove ``/dockyard/<name>`` under ``root`` (cgroup ``version``)."""

    def __init__(self, version: Version, root: Path = ROOT) -> None:
        self.version = version
        self.root = root

    def create(self, name: str, cpus: float | None, memory_mib: int | None) -> str:
        """The task's cgroup with its limits; returns the engine's ``CgroupParent``."""
        if self.version == "v1":
            self._create_v1(name, cpus, memory_mib)
        else:
            self._create_v2(name, cpus, memory_mib)
        return f"/{PARENT}/{name}"

    def _create_v1(self, name: str, cpus: float | None, memory_mib: int | None) -> None:
        memory = self.root / "memory" / PARENT / name
        memory.mkdir(parents=True, exist_ok=True)
        if memory_mib is not None:
            limit = str(memory_mib * 1024 * 1024)
            (memory / "memory.limit_in_bytes").write_text(limit)
            swap = memory / "memory.memsw.limit_in_bytes"
            if swap.exists():  # memory + swap = memory: no swap, as on Fargate
                with contextlib.suppress(OSError):
                    swap.write_text(limit)
        cpu = self.root / "cpu" / PARENT / name
        cpu.mkdir(parents=True, exist_ok=True)
        if cpus is not None:
            (cpu / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
            (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * CFS_PERIOD_US)))

    def _create_v2(self, name: str, cpus: float | None, memory_mib: int | None) -> None:
        parent = self.root / PARENT
        task = parent / name
        task.mkdir(parents=True, exist_ok=True)
        for level in (self.root, parent, task):  # children get the controllers
            with contextlib.suppress(OSError):
                (level / "cgroup.subtree_control").write_text("+memory +cpu")
        if memory_mib is not None:
            (task / "memory.max").write_text(str(memory_mib * 1024 * 1024))
            with contextlib.suppress(OSError):
                (task / "memory.swap.max").write_text("0")
        if cpus is not None:
            (task / "cpu.max").write_text(f"{int(cpus * CFS_PERIOD_US)} {CFS_PERIOD_US}")

    def oom_kills(self, name: str) -> int:
        """How many processes the kernel killed for the task's memory (0 if unknown)."""
        path = (
            self.root / "memory" / PARENT / name / "memory.oom_control"
            if self.version == "v1"
            else self.root / PARENT / name / "memory.events"
        )
        try:
            text = path.read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def remove(self, name: str) -> None:
        """Remove the task's cgroup in every hierarchy (empty leftovers below it too)."""
        tops = (
            [self.root / PARENT / name]
            if self.version == "v2"
            else [c / PARENT / name for c in self.root.iterdir() if (c / PARENT).is_dir()]
        )
        for top in tops:
            if not top.is_dir():
                continue
            for path in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if path.is_dir():
                    with contextlib.suppress(OSError):
                        path.rmdir()
            with contextlib.suppress(OSError):
                top.rmdir()
