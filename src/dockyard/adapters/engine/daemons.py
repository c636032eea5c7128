"""Starting and stopping the engine Dockyard runs itself when none is running.

There may be no service manager (containers, CI, minimal hosts), so Dockyard starts
the installed daemon the way its service unit would, with every byte of state under
Dockyard's state directory: sockets and pid files in ``run_dir``, data in
``state_dir/docker`` or ``state_dir/podman``, output in ``logs_dir``. The daemon runs
in its own session so it outlives the command that started it; its pid file is the
one record that it exists, and a live pid file always wins over starting another.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dockyard.adapters.engine.registries_conf import write_registry_drop_in
from dockyard.errors import EngineUnavailable, SetupError, SpecError
from dockyard.settings import Settings

KINDS = ("docker", "podman")
BINARIES = {"docker": "dockerd", "podman": "podman"}
SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin")
UNIX_SOCKET_MAX = 107

# Extra dockerd flags. Empty for real use; tests that start a second dockerd next to a
# running one set isolation flags here (a bridge of their own, no iptables changes).
# Never ``--bridge=none``: dockerd then deletes ``docker0``, which the other uses.
DOCKERD_EXTRA_ARGS: tuple[str, ...] = ()

PODMAN_CONF = """\
# Written by Dockyard: Podman service settings for hosts without systemd.
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
{init_path}
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
"""


@dataclass(frozen=True)
class Layout:
    """Where a started engine keeps its socket, pid file, log and data."""

    kind: str
    socket: Path
    pidfile: Path
    log: Path
    data: Path

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"


def layout(settings: Settings, kind: str) -> Layout:
    name = "dockerd" if kind == "docker" else "podman"
    return Layout(
        kind=kind,
        socket=settings.run_dir / f"{kind}.sock",
        pidfile=settings.run_dir / f"{name}.pid",
        log=settings.logs_dir / f"{name}.log",
        data=settings.state_dir / kind,
    )


def find_binary(name: str) -> str | None:
    """``name`` on PATH, or in the sbin/bin directories a non-root PATH may lack."""
    found = shutil.which(name)
    if found:
        return found
    for directory in SEARCH_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def choose_kind(preferred: str | None, which: Callable[[str], str | None] = find_binary) -> str:
    """Which engine to start: the configured kind, else dockerd, else podman."""
    if preferred is not None and preferred not in KINDS:
        raise SpecError(
            f"unknown engine kind {preferred!r}",
            field="engine_kind",
            hint="set DOCKYARD_ENGINE_KIND to 'docker' or 'podman'",
        )
    order = (preferred,) if preferred else KINDS
    for kind in order:
        if which(BINARIES[kind]):
            return kind
    wanted = " or ".join(BINARIES[k] for k in order)
    raise SetupError(
        f"no container engine is running and {wanted} is not installed",
        hint="run `dockyard setup` (installs docker.io), or install Docker Engine or Podman",
    )


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid: int, binary: str | None = None) -> bool:
    """True when ``pid`` runs (not a zombie) and, if given, is the ``binary`` named."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass
    proc = Path("/proc") / str(pid)
    if proc.is_dir():
        try:
            if (proc / "stat").read_text().rpartition(")")[2].split()[:1] == ["Z"]:
                return False
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return False
        return binary is None or binary in cmdline
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_pid(where: Layout) -> int | None:
    """The pid of a live engine started earlier into ``where``, if any."""
    pid = read_pid(where.pidfile)
    return pid if pid is not None and alive(pid, BINARIES[where.kind]) else None


def start(settings: Settings, kind: str, progress: Callable[[str], None]) -> tuple[Layout, int]:
    """Launch the engine detached; return its layout and pid (the caller waits for it)."""
    where = layout(settings, kind)
    binary = find_binary(BINARIES[kind])
    if binary is None:
        raise SetupError(f"{BINARIES[kind]} is not installed", hint="run `dockyard setup`")
    for directory in (settings.run_dir, settings.logs_dir, where.data):
        directory.mkdir(parents=True, exist_ok=True)
    _check_socket_lengths(settings, kind)
    where.socket.unlink(missing_ok=True)
    env = dict(os.environ)
    if kind == "docker":
        command = _dockerd_command(binary, settings, where)
    else:
        command = _podman_command(binary, settings, where)
        env["CONTAINERS_CONF"] = str(_write_podman_conf(where))
        if write_registry_drop_in(settings) is None:  # read once, as the service starts
            progress("could not mark Dockyard's registry insecure in registries.conf.d")
    progress(f"starting {BINARIES[kind]} (log: {where.log})")
    with where.log.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd="/",
            env=env,
        )
    if kind == "podman":  # dockerd writes its own pid file
        where.pidfile.write_text(f"{process.pid}\n")
    return where, process.pid


def _dockerd_command(binary: str, settings: Settings, where: Layout) -> list[str]:
    return [
        binary,
        "--host",
        where.url,
        "--data-root",
        str(where.data),
        "--exec-root",
        str(settings.run_dir / "docker-exec"),
        "--pidfile",
        str(where.pidfile),
        *DOCKERD_EXTRA_ARGS,
    ]


def _podman_command(binary: str, settings: Settings, where: Layout) -> list[str]:
    return [
        binary,
        "--root",
        str(where.data / "storage"),
        "--runroot",
        str(settings.run_dir / "podman-run"),
        "--tmpdir",
        str(settings.run_dir / "podman-tmp"),
        "--network-config-dir",
        str(where.data / "networks"),
        "--volumepath",
        str(where.data / "volumes"),
        "system",
        "service",
        "--time=0",
        where.url,
    ]


def _write_podman_conf(where: Layout) -> Path:
    """runc (crun fails on hybrid cgroups), lower rlimits, file locks, an init binary."""
    init = find_binary("catatonit") or find_binary("tini") or find_binary("docker-init")
    path = where.data / "containers.conf"
    path.write_text(PODMAN_CONF.format(init_path=f'init_path = "{init}"' if init else ""))
    return path


def _check_socket_lengths(settings: Settings, kind: str) -> None:
    """Unix socket paths are limited to ~107 bytes; say so before the daemon fails."""
    longest = (
        settings.run_dir / "docker-exec" / "containerd" / "containerd.sock.ttrpc"
        if kind == "docker"
        else settings.run_dir / "podman.sock"
    )
    if len(str(longest)) > UNIX_SOCKET_MAX:
        raise SetupError(
            f"the state directory {settings.state_dir} is too deep for the engine's sockets",
            field="state_dir",
            hint="set DOCKYARD_STATE_DIR to a shorter path",
        )


def log_tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Stop every engine Dockyard started into ``settings``; return the kinds stopped."""
    stopped = []
    for kind in KINDS:
        where = layout(settings, kind)
        pid = running_pid(where)
        if pid is not None:
            _terminate(pid, timeout)
            stopped.append(kind)
        where.pidfile.unlink(missing_ok=True)
        where.socket.unlink(missing_ok=True)
    return stopped


def _terminate(pid: int, timeout: float) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)


def unavailable(where: Layout, why: str) -> EngineUnavailable:
    tail = log_tail(where.log)
    return EngineUnavailable(
        f"{BINARIES[where.kind]} {why}" + (f"; its log ends with:\n{tail}" if tail else ""),
        resource=where.url,
        hint=f"read {where.log} for the reason",
    )
