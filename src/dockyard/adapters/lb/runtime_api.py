"""A small client for HAProxy's runtime API (the admin ``stats socket``).

One command per connection: HAProxy reads a line, answers, and closes, so there is no
session state to get wrong. Answers are text; the ``parse_*`` functions turn the few
that Dockyard reads into typed values and are pure, so they are unit-tested on their
own. Commands that change something answer with an empty line on success or a
sentence on failure; :meth:`RuntimeApi.change` turns the sentence into an error.
"""

from __future__ import annotations

import csv
import io
import socket
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import DockyardError, SetupError

# Administrative state bits of `show servers state` (HAProxy's SRV_ADMF_*).
ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20 | 0x40  # forced, inherited, config, resolver, hostname
ADMIN_DRAIN = 0x08 | 0x10  # forced, inherited
# Operational states (SRV_ST_*).
OP_STOPPED, OP_STARTING, OP_RUNNING, OP_STOPPING = 0, 1, 2, 3

_UNIX_PATH_MAX = 107


class RuntimeApiError(DockyardError):
    """HAProxy refused a runtime command; the message is HAProxy's own answer."""


@dataclass(frozen=True)
class ServerState:
    """One line of ``show servers state``."""

    backend: str
    name: str
    address: str  # host:port, IPv6 in brackets
    op_state: int
    admin_state: int
    check_health: int

    @property
    def in_maintenance(self) -> bool:
        return bool(self.admin_state & ADMIN_MAINT)

    @property
    def draining(self) -> bool:
        return bool(self.admin_state & ADMIN_DRAIN)

    @property
    def running(self) -> bool:
        """Up as far as checks go (it may still be drained or in maintenance); a server
        warming up (slow start) is up, with a share of requests still growing."""
        return self.op_state in (OP_RUNNING, OP_STARTING, OP_STOPPING)


def parse_servers_state(text: str) -> list[ServerState]:
    """Parse ``show servers state [backend]`` (format version 1)."""
    header: list[str] = []
    servers: list[ServerState] = []
    for line in text.splitlines():
        if line.startswith("#"):
            header = line[1:].split()
            continue
        fields = line.split()
        if not header or len(fields) < len(header):
            continue  # the version line, blank lines
        row = dict(zip(header, fields, strict=False))
        host = row["srv_addr"]
        host = f"[{host}]" if ":" in host else host
        servers.append(
            ServerState(
                backend=row["be_name"],
                name=row["srv_name"],
                address=f"{host}:{row['srv_port']}",
                op_state=int(row["srv_op_state"]),
                admin_state=int(row["srv_admin_state"]),
                check_health=int(row["srv_check_health"]),
            )
        )
    return servers


def parse_servers_conn(text: str) -> dict[str, int]:
    """Connections in use per ``backend/server`` from ``show servers conn``."""
    header: list[str] = []
    used: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            header = line[1:].split()
            continue
        fields = line.split()
        if not header or not fields:
            continue
        row = dict(zip(header, fields, strict=False))
        used[row["bkname/svname"]] = int(row["used_cur"])
    return used


def parse_stat(text: str) -> list[dict[str, str]]:
    """Rows of ``show stat`` (CSV) as dicts keyed by HAProxy's column names."""
    body = text.lstrip("# ")
    reader = csv.DictReader(io.StringIO(body))
    return [dict(row) for row in reader if row.get("pxname")]


def parse_map(text: str) -> dict[str, str]:
    """Entries of ``show map <file>``: ``<ref> <key> <value>`` lines."""
    entries: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3:
            entries[fields[1]] = fields[2]
    return entries


def parse_info(text: str) -> dict[str, str]:
    """``show info`` as a dict (``Pid``, ``Version``, ``Uptime_sec``...)."""
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


class RuntimeApi:
    """Talks to one HAProxy process through its admin socket."""

    def __init__(self, socket_path: Path, timeout: float = 5.0) -> None:
        if len(str(socket_path)) > _UNIX_PATH_MAX:
            raise SetupError(
                f"the HAProxy admin socket path is too long for a unix socket: {socket_path}",
                resource=str(socket_path),
                hint="set DOCKYARD_STATE_DIR to a shorter directory",
            )
        self.socket_path = socket_path
        self.timeout = timeout

    def execute(self, command: str, payload: str | None = None) -> str:
        """Send one command, return HAProxy's whole answer.

        ``payload``: lines the command reads after it (``add map ... <<``), ended by an
        empty line, as HAProxy's CLI takes them.
        """
        if "\n" in command:
            raise ValueError("one runtime command per call")
        if payload is not None:
            if "\n\n" in payload:
                raise ValueError("a payload must not hold an empty line")
            command = f"{command} <<\n{payload.rstrip(chr(10))}\n"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(self.socket_path))
                sock.sendall(command.encode() + b"\n")
                chunks: list[bytes] = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except OSError as exc:
                raise SetupError(
                    f"HAProxy does not answer on its admin socket ({exc})",
                    resource=str(self.socket_path),
                    hint="ensure the load balancer is running (it is started on demand)",
                ) from exc
        return b"".join(chunks).decode(errors="replace")

    def change(self, command: str, ok: tuple[str, ...] = (), *, payload: str | None = None) -> str:
        """Run a command that changes state; raise unless the answer is empty or in ``ok``."""
        answer = (
            self.execute(command) if payload is None else self.execute(command, payload)
        ).strip()
        if answer and not any(answer.startswith(expected) for expected in ok):
            raise RuntimeApiError(
                f"HAProxy refused '{' '.join(command.split()[:2])}': {answer}",
                resource=command,
            )
        return answer

    def answers(self) -> bool:
        """True when a process answers on the socket."""
        try:
            return "Pid" in self.info()
        except SetupError:
            return False

    def info(self) -> dict[str, str]:
        return parse_info(self.execute("show info"))

    def servers_state(self, backend: str | None = None) -> list[ServerState]:
        command = f"show servers state {backend}" if backend else "show servers state"
        answer = self.execute(command)
        if answer.startswith("Can't find backend"):
            return []
        return parse_servers_state(answer)

    def servers_conn(self, backend: str) -> dict[str, int]:
        return parse_servers_conn(self.execute(f"show servers conn {backend}"))

    def stat(self) -> list[dict[str, str]]:
        return parse_stat(self.execute("show stat"))

    def events(self, ring: str) -> str:
        """What the ring ``ring`` holds now (``show events``), as text."""
        return self.execute(f"show events {ring}")

    def map_entries(self, map_path: Path) -> dict[str, str]:
        return parse_map(self.execute(f"show map {map_path}"))

    def backends(self) -> list[str]:
        return [line for line in self.execute("show backend").splitlines()[1:] if line.strip()]
