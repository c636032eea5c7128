"""The task-role credentials endpoint, on 169.254.170.2 as ECS serves it.

**How containers reach it.** botocore fetches container credentials over plain HTTP
only from a loopback address or one of ECS's own (169.254.170.2, 169.254.170.23,
fd00:ec2::23, ``localhost``), so the daemon's usual 127.0.0.1 cannot serve a task (a
container's loopback is its own) and the engine's bridge gateway is refused by the
SDKs. Instead the daemon gives the host's loopback interface the link-local address
169.254.170.2/32 (``ip addr add``, what ``ecs-init`` prepares on an ECS instance,
without its iptables rules) and listens there. A container on any bridge network
sends 169.254.170.2 to its default gateway, the host, which delivers it locally: no
NAT, no sidecar, nothing per task, and the SDK's rules hold. This needs a rootful
engine on this host (Docker, rootful Podman) and CAP_NET_ADMIN for the daemon; where
it cannot be set up the log says why and tasks with a role fail to start with
ResourceInitializationError, while tasks without one are unaffected.

Every request must carry the task's own token (:class:`~.task_roles.TaskRoles`), so
another container that reaches the address learns nothing; answers to refused
requests never echo a token.
"""

from __future__ import annotations

import errno
import json
import logging
import re
import socket
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dockyard.ports.store import Store
from dockyard.server.task_roles import TaskRoles

log = logging.getLogger("dockyard.credentials")

ADDRESS = "169.254.170.2"
_PATH = re.compile(r"^/v1/credentials/(?P<task>[0-9a-f]{32})$")


def ensure_address(address: str = ADDRESS) -> str | None:
    """Give the loopback interface ``address``/32; None when done, else why not."""
    try:
        shown = subprocess.run(
            ["ip", "-o", "addr", "show", "dev", "lo"],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
        )
        if f"inet {address}/" in shown.stdout:
            return None
        added = subprocess.run(
            ["ip", "addr", "add", f"{address}/32", "dev", "lo"],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"cannot run `ip`: {error}"
    if added.returncode != 0 and "File exists" not in added.stderr:
        return added.stderr.strip() or f"`ip addr add` exited {added.returncode}"
    return None


def bind(address: str, port: int) -> socket.socket:
    """A listening socket on ``address:port``; on a taken port, one the kernel picks."""
    for wanted in (port, 0):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, wanted))
        except OSError as error:
            sock.close()
            if error.errno == errno.EADDRINUSE and wanted != 0:
                log.warning("credentials port %d is taken; using a free one", port)
                continue
            raise
        sock.listen(64)
        return sock
    raise OSError(errno.EADDRINUSE, "no free port")  # unreachable: port 0 always binds


class CredentialsServer(ThreadingHTTPServer):
    """Answers ``GET /v1/credentials/TASK_ID`` with that task's role credentials."""

    daemon_threads = True

    def __init__(
        self, sock: socket.socket, store: Store, roles: TaskRoles, clock: Callable[[], float]
    ) -> None:
        super().__init__(sock.getsockname(), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.store = store
        self.roles = roles
        self.clock = clock

    def answer(self, path: str, token: str) -> tuple[int, dict[str, str]]:
        """Status and body for one request (no I/O but the store's read)."""
        found = _PATH.match(path)
        if found is None:
            return 404, {"code": "NotFound", "message": "no such path"}
        task_id = found["task"]
        if not token or not self.roles.verify(task_id, token):
            return 401, {"code": "AccessDenied", "message": "invalid authorization token"}
        record = self.store.tasks.get(task_id)
        role = record.definition.task_role_arn if record else None
        if record is None or record.task.is_done or not role:
            return 404, {"code": "NotFound", "message": "no credentials for this task"}
        return 200, self.roles.credentials(task_id, role, self.clock())


class _Handler(BaseHTTPRequestHandler):
    server: CredentialsServer

    def do_GET(self) -> None:
        status, body = self.server.answer(self.path, self.headers.get("Authorization", ""))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return None  # a request line is harmless, but the endpoint stays quiet


def serve(
    store: Store, roles: TaskRoles, port: int, clock: Callable[[], float], address: str = ADDRESS
) -> Callable[[], None] | None:
    """Serve in a thread and set ``roles.base_url``; the stop function, or None (logged)."""
    problem = ensure_address(address) if address == ADDRESS else None
    if problem is None:
        try:
            sock = bind(address, port)
        except OSError as error:
            problem = str(error)
    if problem is not None:
        log.warning(
            "task role credentials not served on %s (%s): tasks with a taskRoleArn will "
            "fail to start; run the daemon as root on a host with a rootful engine",
            address,
            problem,
        )
        return None
    server = CredentialsServer(sock, store, roles, clock)
    thread = threading.Thread(target=server.serve_forever, name="credentials", daemon=True)
    thread.start()
    roles.base_url = f"http://{address}:{sock.getsockname()[1]}"
    log.info("task role credentials on %s", roles.base_url)

    def stop() -> None:
        roles.base_url = None
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop
