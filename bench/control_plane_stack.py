"""The benchmark's own daemon on the installation's engine, and what it costs.

:class:`EngineStack` is the foundation benchmark's :class:`~foundation_stack.Stack`
without a dockerd of its own: the daemon and HAProxy are the benchmark's (its own
state directory), the engine is the one ``dockyard setup`` prepared. That is safe
because every container carries its daemon's installation label and each daemon
sweeps away only its own (:meth:`dockyard.server.tasks.TaskRunner.remove_orphans`).
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

from foundation_stack import Isolation, Stack, free_port, stop_daemon

from dockyard.adapters.engine import DockerEngine
from dockyard.adapters.lb.haproxy import HAProxyLoadBalancer
from dockyard.ports.engine import ContainerState
from dockyard.server.containers import INSTALLATION_LABEL
from dockyard.settings import Settings


class EngineStack(Stack):
    """The benchmark's own daemon and HAProxy, on an engine that already runs.

    No dockerd and no bridge of its own (``isolation`` is unused): :meth:`close`
    stops only the daemon and HAProxy, never the engine.
    """

    @classmethod
    def on_engine(cls, state_dir: Path, engine_url: str) -> EngineStack:
        """Settings naming the engine; a daemon or HAProxy left by an earlier run stops."""
        settings = Settings(state_dir=state_dir, lb_port=free_port(), engine_url=engine_url)
        stop_daemon(settings)
        leftover_lb = HAProxyLoadBalancer.from_settings(settings)
        if leftover_lb.paths.pidfile.is_file():
            leftover_lb.stop()
        return cls(settings, Isolation(bridge="", address=""), DockerEngine(engine_url))

    def close(self) -> list[str]:
        stopped = []
        if stop_daemon(self.settings):
            stopped.append("daemon")
        lb = HAProxyLoadBalancer.from_settings(self.settings)
        if lb.paths.pidfile.is_file():
            lb.stop()
            stopped.append("haproxy")
        self.engine.close()
        return stopped

    def daemon_pid(self) -> int | None:
        try:
            return int((self.settings.run_dir / "daemon.lock").read_text().strip())
        except (OSError, ValueError):
            return None


class OwnContainers:
    """The engine as :func:`delete_endpoint` sees it: this installation's containers only."""

    def __init__(self, engine: DockerEngine, installation: str) -> None:
        self.engine = engine
        self.installation = installation

    def list(self, labels: dict[str, str]) -> list[ContainerState]:
        return self.engine.list({**labels, INSTALLATION_LABEL: self.installation})


class DaemonLog:
    """Counts what the daemon logged since :meth:`mark`: failed reconciles, and those
    failed because HAProxy's admin socket refused the connection."""

    FAILED = "ERROR dockyard.loop: reconciling"
    REFUSED = "HAProxy does not answer on its admin socket"

    def __init__(self, settings: Settings) -> None:
        self.path = settings.logs_dir / "daemon.log"
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size if self.path.is_file() else 0

    def counts(self) -> dict[str, int]:
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            text = handle.read().decode(errors="replace")
        refused = sum(
            1
            for line in text.splitlines()
            if line.startswith("dockyard.errors.") and self.REFUSED in line
        )
        return {"failed_reconciles": text.count(self.FAILED), "lb_admin_refused": refused}


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_of(pid: int | None) -> float | None:
    """CPU seconds (user + system) of process ``pid``, from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def delta(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else round(after - before, 3)
