"""A private Dockyard installation for one benchmark: engine, daemon, load balancer.

Why private: every Dockyard daemon sweeps the engine for containers labelled
``dockyard.managed=1`` whose task it does not know, and removes them. Two daemons on
one engine therefore remove each other's replicas, so a benchmark daemon on the
shared test engine would kill other people's endpoints (and have its own replicas
killed mid-measurement). Each stack here gets its own dockerd under its own state
directory.

Why an isolation bridge: a second dockerd left to its defaults attaches to the
existing ``docker0`` and hands out addresses the first one already gave away. The
engine started here gets a bridge of its own (``--bridge``, no iptables changes);
published ports still work through dockerd's userland proxy, and all traffic stays on
127.0.0.1. Never add ``--default-address-pool`` (nor ``--bridge=none``): dockerd 20.10
restarting on an existing data root with address pools set deletes the interface
named ``docker0`` — the other engine's bridge — while clearing its stale default
network.

Everything a stack starts it stops again (:meth:`Stack.close`): the daemon (pid in
``run/daemon.lock``), HAProxy (``run/haproxy.pid``), the engine
(:func:`dockyard.adapters.engine.stop_started_engine`) and the bridge.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dockyard.adapters.baseimage import cached_tarball
from dockyard.adapters.engine import DockerEngine, connect, daemons, stop_started_engine
from dockyard.adapters.lb.haproxy import HAProxyLoadBalancer
from dockyard.cli.client import ApiClient
from dockyard.settings import Settings

#: Environment variables that would point a child process at someone else's Dockyard.
FOREIGN_ENV = ("DOCKER_HOST", "DOCKYARD_API_URL", "DOCKYARD_API_TOKEN", "DOCKYARD_ENGINE_URL")
DAEMON_START_TIMEOUT = 120.0


@dataclass(frozen=True)
class Isolation:
    """The network a stack's dockerd uses instead of ``docker0``."""

    bridge: str  # interface name, at most 15 characters
    address: str  # the bridge's own address, CIDR (containers get the rest of it)

    def dockerd_args(self) -> tuple[str, ...]:
        return (f"--bridge={self.bridge}", "--iptables=false")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environ() -> dict[str, str]:
    """This process's environment without anything naming another Dockyard or engine."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def ensure_bridge(isolation: Isolation) -> None:
    """Create the isolation bridge (kept if a previous run left it)."""
    if _ip("link", "show", isolation.bridge, check=False).returncode != 0:
        _ip("link", "add", isolation.bridge, "type", "bridge")
        _ip("addr", "add", isolation.address, "dev", isolation.bridge)
    _ip("link", "set", isolation.bridge, "up")


def delete_bridge(isolation: Isolation) -> None:
    _ip("link", "del", isolation.bridge, check=False)


def start_engine(settings: Settings, isolation: Isolation) -> DockerEngine:
    """Start (or reuse) the stack's own dockerd, isolated; return it connected.

    ``settings`` must name no engine URL, so that discovery ends at the state
    directory's own engine. The isolation flags are set only around this call.
    """
    ensure_bridge(isolation)
    saved = daemons.DOCKERD_EXTRA_ARGS
    daemons.DOCKERD_EXTRA_ARGS = isolation.dockerd_args()
    try:
        return connect(settings.model_copy(update={"engine_url": None, "engine_kind": "docker"}))
    finally:
        daemons.DOCKERD_EXTRA_ARGS = saved


def seed_base_cache(settings: Settings, donor: Path) -> bool:
    """Copy the debootstrap root filesystem tarball from ``donor``'s cache, if it has one.

    The base image is then an import of a few seconds instead of a debootstrap run;
    the benchmark measures deploys and builds, not the one-time base image. True when
    ``settings``' cache holds the tarball afterwards.
    """
    mine = cached_tarball(settings)
    theirs = cached_tarball(settings.model_copy(update={"state_dir": donor}))
    if mine.is_file() or not theirs.is_file():
        return mine.is_file()
    mine.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(theirs, mine.with_suffix(".part"))
    os.replace(mine.with_suffix(".part"), mine)
    return True


def stack_environ(settings: Settings) -> dict[str, str]:
    """The environment under which CLI commands and the daemon use this stack."""
    env = clean_environ()
    env["DOCKYARD_STATE_DIR"] = str(settings.state_dir)
    env["DOCKYARD_LB_PORT"] = str(settings.lb_port)
    if settings.engine_url:
        env["DOCKYARD_ENGINE_URL"] = settings.engine_url
    return env


def _pid_of(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or "x")
    except (OSError, ValueError):
        return None


def _is_dockyard_daemon(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"dockyard" in cmdline and b"server" in cmdline


def stop_daemon(settings: Settings, timeout: float = 20.0) -> bool:
    """Stop the daemon whose pid ``run/daemon.lock`` holds; True if one was running."""
    pid = _pid_of(settings.run_dir / "daemon.lock")
    if pid is None or not _is_dockyard_daemon(pid):
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _is_dockyard_daemon(pid):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
        if not _is_dockyard_daemon(pid):
            return True
    return True


@dataclass
class Stack:
    """A state directory with its own engine, and (once started) its daemon."""

    settings: Settings
    isolation: Isolation
    engine: DockerEngine
    _client: ApiClient | None = None

    @classmethod
    def open(cls, state_dir: Path, isolation: Isolation, lb_port: int | None = None) -> Stack:
        """Start the stack's engine; the settings then name it explicitly.

        A daemon or HAProxy left running in ``state_dir`` by an interrupted earlier run
        is stopped first: it would still serve the load balancer on the old port.
        """
        settings = Settings(state_dir=state_dir, lb_port=lb_port or free_port())
        stop_daemon(settings)
        leftover_lb = HAProxyLoadBalancer.from_settings(settings)
        if leftover_lb.paths.pidfile.is_file():
            leftover_lb.stop()
        engine = start_engine(settings, isolation)
        settings = settings.model_copy(update={"engine_url": engine.base_url})
        return cls(settings, isolation, engine)

    @property
    def env(self) -> dict[str, str]:
        return stack_environ(self.settings)

    def client(self) -> ApiClient:
        """The API client, with the daemon started (in its own session) if needed."""
        if self._client is None:
            self._client = ApiClient(self.settings)
        if not self._client.alive():
            self._start_daemon()
        return self._client

    def _start_daemon(self) -> None:
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        with (self.settings.logs_dir / "daemon.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "dockyard.cli.main", "server"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        assert self._client is not None
        deadline = time.monotonic() + DAEMON_START_TIMEOUT
        while not self._client.alive():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the benchmark's daemon did not start; see {self.settings.logs_dir}"
                )
            time.sleep(0.1)

    def close(self) -> list[str]:
        """Stop daemon, HAProxy, engine and bridge, in that order; return what stopped."""
        stopped = []
        if stop_daemon(self.settings):
            stopped.append("daemon")
        lb = HAProxyLoadBalancer.from_settings(self.settings)
        if lb.paths.pidfile.is_file():
            lb.stop()
            stopped.append("haproxy")
        self.engine.close()
        stopped += [f"engine:{kind}" for kind in stop_started_engine(self.settings)]
        delete_bridge(self.isolation)
        return stopped
