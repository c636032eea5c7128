"""The HAProxy process: where its files live, and starting, replacing and stopping it.

HAProxy runs in the foreground (``-db``) but fully detached from Dockyard: it is
launched through ``/bin/sh`` in a new session and the shell exits at once, so HAProxy
belongs to neither the CLI nor the daemon and outlives both. Its stderr (start-up
messages, server state changes, failed requests) goes to ``<logs_dir>/haproxy.log``.
Dockyard writes the pid file itself.

A *takeover* starts a second process with ``-x <admin socket> -sf <old pid>``: it
receives the listening sockets from the old one (no refused connection), and the old
one finishes its in-flight requests, then exits.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from dockyard.adapters.lb.runtime_api import RuntimeApi
from dockyard.adapters.processes import log_tail, pid_alive, stop_process
from dockyard.errors import SetupError

INSTALL_HINT = "install HAProxy 2.6 or newer, e.g. `apt-get install -y haproxy`"


@dataclass(frozen=True)
class LbPaths:
    """Every file of the load balancer."""

    config: Path
    map_file: Path
    split_file: Path
    server_state: Path
    lock: Path
    socket: Path
    pidfile: Path
    log: Path

    @classmethod
    def under(cls, state_dir: Path, run_dir: Path, logs_dir: Path) -> LbPaths:
        """The layout below Dockyard's directories (paths go unquoted into HAProxy)."""
        for directory in (state_dir, run_dir):
            if any(char.isspace() for char in str(directory)):
                raise SetupError(
                    f"HAProxy cannot use a directory with a space in its path: {directory}",
                    resource=str(directory),
                    hint="set DOCKYARD_STATE_DIR to a path without spaces",
                )
        lb_dir = state_dir / "lb"
        return cls(
            config=lb_dir / "haproxy.cfg",
            map_file=lb_dir / "routes.map",
            split_file=lb_dir / "splits.map",
            server_state=lb_dir / "server-state",
            lock=lb_dir / "lock",
            socket=run_dir / "haproxy.sock",
            pidfile=run_dir / "haproxy.pid",
            log=logs_dir / "haproxy.log",
        )

    def make_dirs(self) -> None:
        for path in (self.config, self.socket, self.log):
            path.parent.mkdir(parents=True, exist_ok=True)


def find_binary(explicit: str | None = None) -> str:
    """Path of the ``haproxy`` executable, or :class:`SetupError` saying how to get it."""
    found = shutil.which(explicit or "haproxy")
    if found is None:
        raise SetupError(
            "HAProxy is not installed; Dockyard needs it as its load balancer",
            resource=explicit or "haproxy",
            hint=INSTALL_HINT,
        )
    return found


def check_config(binary: str, config: Path) -> None:
    """Validate a config file with ``haproxy -c``; raise with HAProxy's words if bad."""
    result = subprocess.run(
        [binary, "-c", "-q", "-f", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise SetupError(
            f"HAProxy rejected the generated configuration: {result.stderr.strip()}",
            resource=str(config),
            hint="this is a Dockyard bug; the file is kept for inspection",
        )


def launch(binary: str, paths: LbPaths, *, take_over_from: int | None = None) -> int:
    """Start HAProxy detached; return its pid (not yet ready, see :func:`wait_ready`)."""
    command = [binary, "-db", "-f", str(paths.config)]
    if take_over_from is not None:
        command += ["-x", str(paths.socket), "-sf", str(take_over_from)]
    with paths.log.open("ab") as log:
        result = subprocess.run(
            ["/bin/sh", "-c", '"$@" </dev/null >&2 & echo $!', "sh", *command],
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            timeout=30,
            check=True,
        )
    return int(result.stdout.strip())


def wait_ready(api: RuntimeApi, pid: int, log: Path, timeout: float = 15.0) -> None:
    """Wait until process ``pid`` answers on the admin socket, or raise with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            break
        with contextlib.suppress(SetupError):
            if api.info().get("Pid") == str(pid):
                return
        time.sleep(0.02)
    raise SetupError(
        f"HAProxy did not start: {log_tail(log)}",
        resource=str(log),
        hint="another program may hold the load balancer's port: set DOCKYARD_LB_PORT",
    )


def is_haproxy(pid: int) -> bool:
    """True if ``pid`` is an HAProxy process (guards against a recycled pid)."""
    try:
        return b"haproxy" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def terminate(pid: int, timeout: float = 10.0) -> None:
    """Stop HAProxy ``pid`` (SIGTERM, then SIGKILL) and wait until it is gone."""
    if pid_alive(pid) and is_haproxy(pid):
        stop_process(pid, timeout)
