"""Making, growing and listing a Docker swarm: what ``dockyard cluster`` does.

A join URL carries everything a second machine needs in one argument:
``swarm://TOKEN@MANAGER:2377`` (the worker join token and the manager's address).
The token admits a node as a worker; whoever holds the URL can join, so it is shown
once, by ``cluster init``, and again by ``cluster nodes --join-url``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import docker
import docker.errors

from dockyard.adapters.engine.swarm_translate import node_view
from dockyard.adapters.engine.translate import explanation, translated
from dockyard.errors import Conflict, SpecError

SCHEME = "swarm"
SWARM_PORT = 2377
#: seconds between a node's heartbeats: a node that stops answering is marked down
#: after a few missed ones, and its tasks replaced (swarm's default is 5)
HEARTBEAT_SECONDS = 2


@dataclass(frozen=True)
class Node:
    """One row of ``dockyard cluster nodes``."""

    id: str
    hostname: str
    address: str
    role: str
    state: str
    availability: str
    leader: bool
    engine_version: str
    cpus: float
    memory_mib: int

    def as_json(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Hostname": self.hostname,
            "Addr": self.address,
            "Role": self.role,
            "State": self.state,
            "Availability": self.availability,
            "Leader": self.leader,
            "EngineVersion": self.engine_version,
            "NanoCPUs": int(self.cpus * 1e9),
            "MemoryBytes": self.memory_mib * 1024 * 1024,
        }


def join_url(token: str, manager_addr: str) -> str:
    host = manager_addr if ":" in manager_addr else f"{manager_addr}:{SWARM_PORT}"
    return f"{SCHEME}://{token}@{host}"


def parse_join_url(url: str) -> tuple[str, str]:
    """``(token, manager host:port)`` of a join URL; a SpecError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != SCHEME or not parts.username or not parts.hostname:
        raise SpecError(
            f"{url!r} is not a join URL",
            field="url",
            hint="use the URL `dockyard cluster init` printed (swarm://TOKEN@HOST:2377)",
        )
    return parts.username, f"{parts.hostname}:{parts.port or SWARM_PORT}"


class SwarmCluster:
    """The swarm as seen from one engine (a manager, or one about to join)."""

    def __init__(self, api: docker.APIClient) -> None:
        self._api = api

    @classmethod
    def at(cls, base_url: str) -> SwarmCluster:
        """The swarm seen from the engine at ``base_url``."""
        with translated(base_url, what="engine"):
            return cls(docker.APIClient(base_url=base_url, version="auto", timeout=60))

    def close(self) -> None:
        self._api.close()

    def _swarm_info(self) -> dict[str, Any]:
        with translated("swarm", what="engine"):
            info: dict[str, Any] = self._api.info()
        return dict(info.get("Swarm") or {})

    def init(self, advertise_addr: str, listen_addr: str | None = None) -> str:
        """Make this engine the first manager of a new swarm; return the join URL."""
        if self._swarm_info().get("LocalNodeState") == "active":
            raise Conflict(
                "this engine is already part of a swarm",
                resource="swarm",
                hint="`dockyard cluster nodes` lists it; `docker swarm leave --force` undoes it",
            )
        spec = self._api.create_swarm_spec(dispatcher_heartbeat_period=HEARTBEAT_SECONDS * 10**9)
        with translated("swarm", what="engine"):
            try:
                self._api.init_swarm(
                    advertise_addr=advertise_addr,
                    listen_addr=listen_addr or f"{advertise_addr}:{SWARM_PORT}",
                    swarm_spec=spec,
                )
            except docker.errors.APIError as exc:
                raise SpecError(
                    f"the engine could not start a swarm on {advertise_addr}: {explanation(exc)}",
                    field="advertise_addr",
                    hint="give an address of this machine that the other nodes reach",
                ) from exc
        return self.join_url()

    def join_url(self) -> str:
        """The worker join URL of the swarm this engine manages."""
        with translated("swarm", what="engine"):
            swarm = self._api.inspect_swarm()
        token = str(swarm["JoinTokens"]["Worker"])
        managers = [n for n in self.nodes() if n.role == "manager"]
        leader = next((n for n in managers if n.leader), managers[0])
        return join_url(token, leader.address)

    def join(self, url: str, advertise_addr: str, listen_addr: str | None = None) -> None:
        """Join this engine to the swarm of ``url`` as a worker."""
        token, manager = parse_join_url(url)
        with translated("swarm", what="engine"):
            try:
                self._api.join_swarm(
                    remote_addrs=[manager],
                    join_token=token,
                    advertise_addr=advertise_addr,
                    listen_addr=listen_addr or f"{advertise_addr}:{SWARM_PORT}",
                )
            except docker.errors.APIError as exc:
                raise SpecError(
                    f"joining the swarm at {manager} failed: {explanation(exc)}",
                    field="url",
                    hint="check that the manager's address is reachable from this machine "
                    "(TCP 2377, 7946 and UDP 7946, 4789) and that the token is current",
                ) from exc

    def nodes(self) -> list[Node]:
        """Every node of the swarm (only a manager can tell)."""
        with translated("nodes", what="swarm"):
            docs: list[dict[str, Any]] = self._api.nodes()
        return sorted(
            (node_of(doc) for doc in docs), key=lambda n: (n.role != "manager", n.address)
        )


def node_of(doc: dict[str, Any]) -> Node:
    """A :class:`Node` from ``GET /nodes``."""
    spec = doc.get("Spec") or {}
    status = doc.get("Status") or {}
    description = doc.get("Description") or {}
    manager = doc.get("ManagerStatus") or {}
    resources = description.get("Resources") or {}
    return Node(
        id=str(doc["ID"]),
        hostname=str(description.get("Hostname") or ""),
        address=node_view(doc).address,
        role=str(spec.get("Role") or ""),
        state=str(status.get("State") or ""),
        availability=str(spec.get("Availability") or ""),
        leader=bool(manager.get("Leader")),
        engine_version=str((description.get("Engine") or {}).get("EngineVersion") or ""),
        cpus=int(resources.get("NanoCPUs") or 0) / 1e9,
        memory_mib=int(resources.get("MemoryBytes") or 0) // (1024 * 1024),
    )
