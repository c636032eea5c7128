"""What Dockyard needs from a container engine, and nothing engine-specific."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

ContainerStatus = Literal[
    "created", "running", "paused", "restarting", "exited", "dead", "removing"
]


@dataclass(frozen=True)
class Mount:
    """A host directory or file bound into a container."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class HealthCheck:
    """A check the engine runs inside the container (Docker's HEALTHCHECK).

    ``test`` is ``["CMD", ...]`` or ``["CMD-SHELL", "..."]``, as ECS writes it.
    """

    test: list[str]
    interval_s: int = 30
    timeout_s: int = 5
    retries: int = 3
    start_period_s: int = 0


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to start one container.

    ``ports`` are the container ports it serves. With ``publish`` (the default) each is
    also published on the loopback address on a free host port chosen by the engine
    (see :attr:`ContainerState.host_ports`); without it they are reached on the
    container's own address (:attr:`ContainerState.ip_address`), which only an engine
    that :attr:`Engine.routes_to_containers` makes reachable from this host.
    ``labels`` are how Dockyard finds its containers again after a restart.
    ``network`` ``container:ID`` joins another container's network namespace (its
    ports are then that container's). ``cpus`` is a hard quota, ``cpu_shares`` a
    relative weight; ``memory_mib`` a hard limit, ``memory_reservation_mib`` a soft
    one; ``cgroup_parent`` is what :meth:`Engine.task_cgroup` returned.
    """

    name: str
    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    publish: bool = True
    network: str | None = None
    hostname: str | None = None
    network_aliases: list[str] = field(default_factory=list)
    cpus: float | None = None
    memory_mib: int | None = None
    user: str | None = None
    working_dir: str | None = None
    stop_timeout: int = 30
    init: bool = False
    cpu_shares: int | None = None
    memory_reservation_mib: int | None = None
    cgroup_parent: str | None = None
    health_check: HealthCheck | None = None
    #: a pull-only credential for the image's registry, for an engine that pulls the
    #: image where it runs the container (a swarm node); an engine that runs it from
    #: the image the daemon already pulled ignores it
    pull_auth: RegistryAuth | None = None


@dataclass(frozen=True)
class ContainerState:
    """One observation of a container, as the reconcile loop sees it."""

    id: str
    name: str
    image: str
    status: ContainerStatus
    labels: dict[str, str]
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    host_ports: dict[int, int] = field(default_factory=dict)
    ip_address: str | None = None
    #: the engine's health check verdict: "starting", "healthy", "unhealthy" (None: no check)
    health: str | None = None
    #: where ``host_ports`` are published: None for this host's loopback; a node's
    #: address where the engine runs the container on another machine (swarm)
    host_address: str | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class ContainerStats:
    """One reading of a running container's resource use.

    ``cpu_used_ns`` only grows while the container runs (a rate needs two readings);
    ``memory_bytes`` is what the container uses now, without reclaimable page cache
    (as ``docker stats`` shows it); ``at`` is when the engine read them (Unix time).
    """

    cpu_used_ns: int
    memory_bytes: int
    memory_limit_bytes: int | None
    at: float


@dataclass(frozen=True)
class ImageInfo:
    id: str
    tags: list[str]
    size_bytes: int
    labels: dict[str, str]


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for one registry (``docker login``'s user and password)."""

    username: str
    password: str


@dataclass(frozen=True)
class BuildEvent:
    """One line of build progress (``stream``) or the final image id (``image_id``)."""

    stream: str = ""
    image_id: str | None = None


class Engine(Protocol):
    """A container engine reached through its API."""

    kind: str  # "docker", "podman", later "kubernetes": for display only
    #: whether this host reaches a container's own address (a rootful engine on this
    #: Linux host does; Docker Desktop, a Podman machine, a rootless or a remote engine
    #: do not). Where it does, load balancers target containers there and nothing in
    #: the data path copies bytes through the engine's userland port proxy.
    routes_to_containers: bool
    #: whether a container can join another's network namespace (``network``
    #: ``container:ID``): Docker and Podman can; swarm cannot (it places each service
    #: on its own, possibly on another node)
    joins_namespaces: bool
    #: whether containers may start on other machines' engines, each pulling its image
    #: by name (swarm): an image id or a name only this engine knows cannot start
    #: there, so images are named in a registry every node reaches
    nodes_pull_images: bool

    def ping(self) -> None:
        """Raise :class:`~dockyard.errors.EngineUnavailable` unless the engine answers."""

    def capacity(self) -> tuple[int, int]:
        """(CPU cores, memory in MiB) of the host the engine runs containers on."""

    # containers
    def run(self, spec: ContainerSpec) -> ContainerState: ...
    def inspect(self, container_id: str) -> ContainerState: ...
    def list(self, labels: dict[str, str]) -> list[ContainerState]: ...
    def stop(self, container_id: str, timeout: int) -> None: ...
    def kill(self, container_id: str, signal: str = "SIGKILL") -> None: ...
    def remove(self, container_id: str) -> None: ...
    def wait(self, container_id: str, timeout: float | None = None) -> int: ...
    def logs(
        self, container_id: str, follow: bool = False, timestamps: bool = False
    ) -> Iterator[bytes]:
        """Output as the engine frames it. With ``timestamps`` every frame (one line, or
        one piece of a very long line) starts with its RFC 3339 time and a space."""

    def stats(self, container_id: str) -> ContainerStats | None:
        """The container's resource use now; None once it no longer runs."""

    def put_archive(self, container_id: str, path: str, tar_bytes: bytes) -> None: ...
    def get_archive(self, container_id: str, path: str) -> Iterator[bytes]: ...

    # task cgroups
    def task_cgroup(self, name: str, cpus: float | None, memory_mib: int | None) -> str | None:
        """Make a cgroup that bounds a whole task (every container started with the
        returned ``cgroup_parent``); None where this engine cannot (then the caller
        bounds each container instead)."""

    def remove_task_cgroup(self, name: str) -> None:
        """Remove the task's cgroup once its containers are gone (idempotent)."""

    # networks
    def ensure_network(self, name: str, labels: dict[str, str]) -> None: ...
    def remove_network(self, name: str) -> None: ...

    # images
    def build(
        self,
        context_dir: str,
        tag: str,
        dockerfile: str = "Dockerfile",
        labels: dict[str, str] | None = None,
        buildargs: dict[str, str] | None = None,
    ) -> Iterator[BuildEvent]: ...
    def image(self, ref: str) -> ImageInfo | None: ...
    def pull(self, ref: str, auth: RegistryAuth | None = None) -> bool:
        """Pull ``ref``; False when it cannot be had (no registry answers, refused)."""

    def push(
        self, ref: str, auth: RegistryAuth, progress: Callable[[str], None] | None = None
    ) -> str:
        """Push ``ref`` to the registry its name starts with; returns the manifest digest
        ("" from an engine that does not report it: Podman before 4.4).

        Raises :class:`~dockyard.errors.DockyardError` with the registry's words when
        the push is refused (unauthorised, immutable tag, unknown repository).
        """

    def import_rootfs(self, tar_path: str, ref: str, changes: builtins.list[str]) -> None: ...
    def tag(self, source: str, target: str) -> None: ...
