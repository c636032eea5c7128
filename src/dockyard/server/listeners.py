"""The daemon's side listeners: an ASGI app on a loopback port, in a thread of its own.

The registry front and the AWS APIs each serve on their own port next to the daemon's
API. Both bind before serving (clients that connect early wait in the backlog rather
than fail), both let the daemon go on without them when their port is taken (the log
says which setting moves it), and both stop when the daemon does.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

log = logging.getLogger("dockyard.daemon")

BACKLOG = 128
STOP_WAIT_S = 10.0


def bind_tcp(address: str) -> socket.socket:
    """A TCP socket bound to ``HOST:PORT`` (``:PORT`` is the loopback), not listening yet."""
    host, _, port = address.rpartition(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host or "127.0.0.1", int(port)))
    return sock


def serve_on_loopback(
    app: Any, port: int, *, what: str, setting: str, log_level: str = "warning"
) -> Callable[[], None] | None:
    """Serve ``app`` on 127.0.0.1:``port`` in a thread; the function that stops it, or
    None (logged, naming ``setting``) when the port cannot be had."""
    try:
        sock = bind_tcp(f"127.0.0.1:{port}")
        sock.listen(BACKLOG)
    except OSError as exc:
        log.error(
            "%s not started: 127.0.0.1:%d is unavailable (%s); "
            "set %s to a free port and restart the daemon",
            what,
            port,
            exc.strerror or exc,
            setting,
        )
        return None
    server = uvicorn.Server(
        uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=5)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=what, daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(STOP_WAIT_S)
        sock.close()

    return stop
