"""The control-plane daemon: one process per state directory.

It owns the state file, connects to (or starts) the container engine and the load
balancer, runs the control loop in threads, and serves the API. A lock file keeps
a second daemon off the same state directory; everything the daemon knows is in the
store or the labels of the containers it started, so killing it loses nothing and a
restart re-adopts what is running.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn

from dockyard import __version__
from dockyard.errors import Conflict, DockyardError
from dockyard.server.app import create_app
from dockyard.server.auth import TokenGuard, load_or_create_token
from dockyard.server.aws.front import serve_in_thread as serve_aws_front
from dockyard.server.console.app import serve as serve_console
from dockyard.server.control_plane import ControlPlane
from dockyard.server.credentials_endpoint import serve as serve_credentials
from dockyard.server.listeners import bind_tcp, serve_on_loopback
from dockyard.server.platform import Platform
from dockyard.server.registry.front import create_front
from dockyard.settings import Settings

log = logging.getLogger("dockyard.daemon")


def _bind_unix(path: Path) -> socket.socket:
    """An owner-only unix socket: 0700 directory, 0600 socket, stale file replaced."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    return sock


def _take_lock(settings: Settings) -> int:
    settings.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(settings.run_dir / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Conflict(
            "another Dockyard daemon already runs on this state directory",
            resource=str(settings.state_dir),
            hint="use the running one, or stop it first",
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _serve_registry_front(platform: Platform) -> Callable[[], None] | None:
    """Serve the registry front on 127.0.0.1:<registry_port> in a thread of its own;
    the function that stops it, or None if it could not start (the daemon goes on)."""
    if platform.registry is None:
        return None
    stop = serve_on_loopback(
        create_front(platform),
        platform.settings.registry_port,
        what="registry front",
        setting="DOCKYARD_REGISTRY_PORT",
        # not "warning": docker tries TLS first on a loopback registry, and each such
        # handshake would log "Invalid HTTP request received"
        log_level="error",
    )
    if stop is not None:
        log.info("registry on http://%s", platform.registry.public_host)
    return stop


def run_daemon(settings: Settings) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per health probe
    lock = _take_lock(settings)
    log.info("dockyard %s starting, state in %s", __version__, settings.state_dir)
    platform = Platform.open(settings, progress=log.info)
    control_plane = ControlPlane(platform)
    app = create_app(platform, control_plane)
    api = app
    token = load_or_create_token(settings.run_dir / "api-token", settings.api_token)
    sockets = [_bind_unix(settings.api_socket)]
    if settings.api_tcp:
        app = TokenGuard(app, token)  # type: ignore[assignment]
        sockets.append(bind_tcp(settings.api_tcp))
        log.info("API also on tcp://%s (token in %s)", settings.api_tcp, settings.run_dir)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    )
    stop_credentials = serve_credentials(
        platform.store, control_plane.roles, settings.credentials_port, platform.clock
    )
    control_plane.start()
    stop_registry_front = _serve_registry_front(platform)
    stop_aws_front = serve_aws_front(platform)
    stop_console = serve_console(api, token, settings.share_dir, settings.console_port)
    if stop_console is not None:
        api.state.console_url = f"http://127.0.0.1:{settings.console_port}/"
        log.info("console on %s (`dockyard console` prints its link)", api.state.console_url)
    log.info("API on unix://%s", settings.api_socket)
    # uvicorn handles SIGTERM itself, then re-raises it once it has stopped serving;
    # with the default action that would kill the process before the cleanup below
    # (the control loop stopped between reconciles, the store closed). This handler makes
    # the re-raised signal harmless and a SIGTERM before uvicorn starts a clean stop.
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    try:
        server.run(sockets=sockets)
    finally:
        if stop_console is not None:
            stop_console()
        if stop_aws_front is not None:
            stop_aws_front()
        if stop_registry_front is not None:
            stop_registry_front()
        control_plane.stop()
        if stop_credentials is not None:
            stop_credentials()
        if platform.registry is not None:  # without its front, nothing reaches it
            with contextlib.suppress(DockyardError):
                platform.registry.process.stop()
        platform.close()
        settings.api_socket.unlink(missing_ok=True)
        os.close(lock)
        log.info("daemon stopped")
