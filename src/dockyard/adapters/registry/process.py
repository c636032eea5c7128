"""The registry process: where its files live, and starting and stopping it.

Distribution runs as ``docker-registry serve CONFIG`` (Debian's name; upstream's
binary is ``registry``), detached from Dockyard the way HAProxy is (see
:mod:`dockyard.adapters.lb.process`): launched through ``/bin/sh`` in a new session,
so it outlives the CLI or daemon that started it. Its log goes to
``<logs_dir>/registry.log``; Dockyard writes the pid file. Which configuration a
process runs (normal or read-only) is read back from its command line, so a registry
left read-only by an interrupted garbage collection is recognised and repaired.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from dockyard.adapters.processes import log_tail, pid_alive, stop_process
from dockyard.errors import SetupError

INSTALL_HINT = "install CNCF Distribution 2.8, e.g. `apt-get install -y docker-registry`"
BINARIES = ("docker-registry", "registry")


@dataclass(frozen=True)
class RegistryPaths:
    """Every file of the registry."""

    root: Path
    data: Path
    config: Path
    read_only_config: Path
    secret: Path
    port: Path
    lock: Path
    pidfile: Path
    log: Path

    @classmethod
    def under(cls, state_dir: Path, run_dir: Path, logs_dir: Path) -> RegistryPaths:
        root = state_dir / "registry"
        return cls(
            root=root,
            data=root / "data",
            config=root / "config.yml",
            read_only_config=root / "config-readonly.yml",
            secret=root / "http-secret",
            port=root / "port",
            lock=root / "lock",
            pidfile=run_dir / "registry.pid",
            log=logs_dir / "registry.log",
        )

    def make_dirs(self) -> None:
        for path in (self.data, self.pidfile.parent, self.log.parent):
            path.mkdir(parents=True, exist_ok=True)


def find_binary(explicit: str | None = None) -> str:
    """Path of Distribution's executable, or :class:`SetupError` saying how to get it."""
    for name in (explicit,) if explicit else BINARIES:
        found = shutil.which(name) if name else None
        if found:
            return found
    raise SetupError(
        "CNCF Distribution is not installed; Dockyard needs it as its image registry",
        resource=explicit or BINARIES[0],
        hint=INSTALL_HINT,
    )


def http_secret(path: Path) -> str:
    """The secret Distribution signs upload state with: random once, then kept.

    A new secret at each start would break uploads that span a restart.
    """
    with contextlib.suppress(FileNotFoundError):
        text = path.read_text().strip()
        if text:
            return text
    value = secrets.token_urlsafe(32)
    write_private(path, value + "\n")
    return value


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` in one step with a file only its owner can read (it holds secrets)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def recorded_port(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def pick_port() -> int:
    """A loopback port nothing listens on now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(binary: str, config: Path, log: Path) -> int:
    """Start ``binary serve config`` detached; return its pid (see :func:`wait_ready`)."""
    with log.open("ab") as handle:
        result = subprocess.run(
            ["/bin/sh", "-c", '"$@" </dev/null >&2 & echo $!', "sh", binary, "serve", str(config)],
            stdout=subprocess.PIPE,
            stderr=handle,
            start_new_session=True,
            timeout=30,
            check=True,
        )
    return int(result.stdout.strip())


def answers(port: int, service: str, timeout: float = 2.0) -> bool:
    """True if a registry of ``service`` answers ``GET /v2/`` on ``127.0.0.1:port``.

    401 counts: it asks for a token of our service, which tells it apart from another
    program on the port. (``http.client``: an httpx client would load a CA bundle
    first, ten times the cost of the probe.)
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/v2/")
        response = connection.getresponse()
        challenge = response.getheader("WWW-Authenticate") or ""
        status = response.status
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return status == 200 or (status == 401 and f'service="{service}"' in challenge)


def wait_ready(pid: int, port: int, service: str, timeout: float = 20.0) -> bool:
    """Wait until process ``pid`` serves ``port``; False if it died or never answered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return False
        if answers(port, service, timeout=1.0):
            return True
        time.sleep(0.02)
    return False


def running_config(pid: int) -> Path | None:
    """The config file process ``pid`` serves, if it is a Distribution registry."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if len(argv) < 3 or "registry" not in Path(os.fsdecode(argv[0])).name:
        return None
    if argv[1] != b"serve":
        return None
    return Path(os.fsdecode(argv[2]))


def terminate(pid: int, timeout: float = 10.0) -> None:
    """Stop registry ``pid`` (SIGTERM, then SIGKILL) and wait until it is gone."""
    if pid_alive(pid) and running_config(pid) is not None:
        stop_process(pid, timeout)


def start_failure(log: Path, port: int) -> SetupError:
    return SetupError(
        f"the registry did not start: {log_tail(log)}",
        resource=str(log),
        hint=f"see the log; port {port} may be taken by another program",
    )
