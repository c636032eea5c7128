"""Memory of the replica and of each worker: ``GET /dockyard/stats`` and the exit log.

Why per worker and per replica: the model is loaded once, before the workers fork, so its
pages are shared copy-on-write; a worker's RSS counts those shared pages again, and adding
the workers' RSS up overstates the replica. So the report gives, for every process, its
RSS now and its peak (``VmRSS``/``VmHWM`` from ``/proc``), plus for the whole replica the
container's own figures where the kernel keeps them (cgroup v2 ``memory.current`` and
``memory.peak``), which count shared pages once.

The route lives under ``/dockyard/`` so the SageMaker routes (``/ping``,
``/invocations``) stay exactly the contract's. It is read on the event loop from a few
small ``/proc`` files, cheap enough for a scrape every few seconds, and never on the
prediction path.
"""

from __future__ import annotations

import json
import os
from typing import Any

from dockyard.runtime.serve.board import WorkerBoard

_CGROUP = "/sys/fs/cgroup"


def process_memory(pid: int) -> dict[str, int] | None:
    """RSS now and at its peak, in bytes, of a live process; None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            lines = status.read().splitlines()
    except OSError:
        return None
    figures = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = int(value.split()[0]) * 1024
    if "VmRSS" not in figures:
        return None  # a zombie: no memory left to report
    return {"rss_bytes": figures["VmRSS"], "peak_rss_bytes": figures.get("VmHWM", 0)}


def container_memory() -> dict[str, int | None]:
    """The cgroup's current and peak memory in bytes (None where the kernel has no file)."""
    return {
        "current_bytes": _read_int(os.path.join(_CGROUP, "memory.current")),
        "peak_bytes": _read_int(os.path.join(_CGROUP, "memory.peak")),
    }


def snapshot(board: WorkerBoard, supervisor: int) -> dict[str, Any]:
    """The whole report: the replica, the supervisor and every worker slot."""
    workers = []
    processes = [parent := process_memory(supervisor)]
    for slot in range(board.slots):
        pid = board.pid(slot)
        memory = process_memory(pid) if pid else None
        processes.append(memory)
        workers.append(
            {
                "slot": slot,
                "pid": pid or None,
                "ready": board.ready(slot),
                "busy_s": round(board.busy_for(slot), 3),
                "restarts": board.restarts(slot),
                "rss_bytes": memory["rss_bytes"] if memory else None,
                "peak_rss_bytes": memory["peak_rss_bytes"] if memory else None,
                "exited_peak_rss_bytes": board.exited_peak_kb(slot) * 1024 or None,
            }
        )
    return {
        "replica": {
            "rss_sum_bytes": sum(p["rss_bytes"] for p in processes if p),
            **container_memory(),
        },
        "supervisor": {"pid": supervisor, **(parent or {})},
        "workers": workers,
    }


def stats_body(board: WorkerBoard, supervisor: int) -> bytes:
    return json.dumps(snapshot(board, supervisor)).encode()


def megabytes(kib: int) -> str:
    """For the log: KiB (as ``getrusage`` counts on Linux) in MiB."""
    return f"{kib / 1024:.1f} MiB"


def _read_int(path: str) -> int | None:
    try:
        with open(path) as file:
            return int(file.read().strip())
    except (OSError, ValueError):
        return None
