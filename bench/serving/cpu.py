"""CPU per request, hop by hop: where a request's CPU time goes on the path under load.

On a 2-core machine the load generator, the balancer, the engine's userland proxy and the
server all share the same cores, so a server's req/s says as much about the hops in
front of it as about the server. Around each throughput pass the benchmark reads the
CPU time every hop of the target has used, and divides by the requests answered:

* ``load``: wrk itself (``getrusage(RUSAGE_CHILDREN)`` around its run);
* ``balancer``: the HAProxy of the benchmark's own daemon (endpoints only);
* ``proxy``: the engine's userland proxy behind the published port (``docker-proxy``
  processes naming that port; containers on a published port only);
* ``server``: the server's processes — a host process tree from ``/proc``, a
  container's cgroup from the engine's stats (``one-shot``);
* ``rest``: the machine's busy CPU (``/proc/stat``) less all of the above: the kernel's
  network work that is charged to no process (softirq), the engine, other load.

Every reader returns cumulative CPU seconds, so one reading before and one after a pass
is enough and nothing samples during the pass.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .procs import process_tree

Reader = Callable[[], float]
_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pids: list[int]) -> float:
    """User plus system CPU seconds of the live processes ``pids``."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def tree_reader(pid: int) -> Reader:
    """A host server: its process and every live descendant."""
    return lambda: process_cpu_s(process_tree(pid))


def container_reader(container: Any) -> Reader:
    """A container: its cgroup's CPU usage as the engine reports it (nanoseconds)."""

    def read() -> float:
        stats = container.client.api.stats(container.id, stream=False, one_shot=True)
        return float(stats["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9

    return read


def _commands() -> list[tuple[int, list[str]]]:
    """Every live process with its arguments."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            args = [a.decode(errors="replace") for a in argv if a]
            if args:
                found.append((int(entry.name), args))
    return found


def userland_proxy_reader(port: int) -> Reader:
    """The engine's ``docker-proxy`` for host port ``port`` (none, as on Podman: 0)."""

    def pids() -> list[int]:
        return [
            pid
            for pid, args in _commands()
            if Path(args[0]).name == "docker-proxy"
            and any(a == "-host-port" and b == str(port) for a, b in itertools.pairwise(args))
        ]

    return lambda: process_cpu_s(pids())


def haproxy_reader(state_dir: Path) -> Reader:
    """The HAProxy whose configuration file lies under ``state_dir``."""
    prefix = f"{state_dir.resolve()}/"

    def pids() -> list[int]:
        return [
            pid
            for pid, args in _commands()
            if Path(args[0]).name == "haproxy" and any(a.startswith(prefix) for a in args)
        ]

    return lambda: process_cpu_s(pids())


def machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine since boot (every state but idle and iowait)."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(v) for v in first]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    # guest time is already counted in user time
    busy = sum(ticks[:8]) - idle
    return busy / _TICK


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """Reads every hop of one target before and after a pass; µs per request each."""

    def __init__(self, hops: Mapping[str, Reader]) -> None:
        self.hops = dict(hops)

    def read(self) -> dict[str, float | None]:
        values: dict[str, float | None] = {}
        for name, reader in self.hops.items():
            try:
                values[name] = reader()
            except Exception:  # a hop that cannot be read is reported as unknown
                values[name] = None
        values["load"] = children_cpu_s()
        values["machine"] = machine_busy_s()
        return values


def per_request_us(
    before: Mapping[str, float | None], after: Mapping[str, float | None], requests: int
) -> dict[str, float | None]:
    """{hop: CPU µs per request}, plus ``rest`` (machine less hops) and ``total``."""
    if requests <= 0:
        return {}
    out: dict[str, float | None] = {}
    accounted = 0.0
    for name in before:
        if name == "machine":
            continue
        start, end = before[name], after.get(name)
        if start is None or end is None:
            out[name] = None
            continue
        out[name] = round((end - start) * 1e6 / requests, 1)
        accounted += end - start
    start_m, end_m = before.get("machine"), after.get("machine")
    if start_m is not None and end_m is not None:
        total = end_m - start_m
        out["rest"] = round(max(0.0, total - accounted) * 1e6 / requests, 1)
        out["total"] = round(total * 1e6 / requests, 1)
    return out
