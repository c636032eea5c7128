"""Dockyard's container specs as swarm services, and swarm tasks as container states.

Pure functions, so the mapping is unit-tested without a swarm. One Dockyard container
is one swarm service of one replica (see :mod:`swarm` for why); this module says what
that service looks like and how its task reads back:

* limits: ``cpus``/``memory_mib`` are the service's resource *limits*; ECS's relative
  ``cpu`` units (``cpu_shares``, 1024 a vCPU) and ``memoryReservation`` are its
  *reservations*, so swarm places a task only on a node with that much unreserved,
  as ECS places tasks on container instances;
* restart policy ``none``: a task that stops stays stopped and the service core
  replaces it (ECS semantics), which is also what happens when a node leaves;
* ports are published in ``host`` mode on a port the node picks: the balancer targets
  ``node address:published port`` (the ingress mesh and virtual IPs need the
  kernel's IPVS, which machines like these lack; see :mod:`swarm`);
* a task is observed as the engine's words for a container (created, running,
  exited, dead); a task on a node that is down is ``dead``, naming the node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import docker.types

from dockyard.errors import SpecError
from dockyard.ports.engine import ContainerSpec, ContainerState, ContainerStatus

NANO = 1_000_000_000
MAX_SERVICE_NAME = 63  # swarm refuses longer service names (InvalidArgument)
MIB = 1024 * 1024
#: what ECS counts as one vCPU in ``cpu`` units
CPU_UNITS_PER_VCPU = 1024

#: swarm's task states (``api/types/swarm/task.go``) in the container engine's words
_TASK_STATES: dict[str, ContainerStatus] = {
    "new": "created",
    "allocated": "created",
    "pending": "created",
    "assigned": "created",
    "accepted": "created",
    "preparing": "created",
    "ready": "created",
    "starting": "created",
    "running": "running",
    "complete": "exited",
    "shutdown": "exited",
    "failed": "exited",
    "rejected": "dead",
    "orphaned": "dead",
    "remove": "removing",
}


#: desired states of a task swarm is taking down (a scale-down, a removed service)
_STOPPING = frozenset({"shutdown", "remove"})


@dataclass(frozen=True)
class NodeView:
    """What a task's state needs of its node: where it is reached, whether it is up."""

    id: str
    hostname: str
    address: str
    ready: bool


def service_name(name: str) -> str:
    """``name`` as a swarm service may be called: at most 63 characters (a DNS label).

    Container names are longer where endpoint and variant names are (``ENDPOINT-VARIANT-
    TASK-ENDPOINT``); a longer one keeps its head and ends in a hash of the whole, so
    two names never meet. Nothing looks a task's container up by this name: the
    labels say whose it is.
    """
    if len(name) <= MAX_SERVICE_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    head = name[: MAX_SERVICE_NAME - len(digest) - 1].rstrip("-_.")
    return f"{head}-{digest}"


def service_args(spec: ContainerSpec) -> dict[str, Any]:
    """Keyword arguments of ``APIClient.create_service`` for one container.

    Raises :class:`SpecError` for what a swarm service cannot be: a container that
    joins another container's network namespace (swarm schedules each service on its
    own, possibly on another node).
    """
    if spec.network and spec.network.startswith("container:"):
        raise SpecError(
            f"container {spec.name}: on the swarm backend a task's containers cannot "
            "share one network namespace (swarm places each on its own)",
            field="networkMode",
            hint="use networkMode bridge (each container reached on its own ports) or one "
            "container per task definition",
        )
    container = docker.types.ContainerSpec(
        image=spec.image,
        command=list(spec.entrypoint) if spec.entrypoint is not None else None,
        args=list(spec.command) if spec.command is not None else None,
        hostname=spec.hostname,
        env=[f"{key}={value}" for key, value in spec.env.items()],
        workdir=spec.working_dir,
        user=spec.user,
        labels=dict(spec.labels),
        mounts=[
            docker.types.Mount(m.target, m.source, type="bind", read_only=m.read_only)
            for m in spec.mounts
        ],
        stop_grace_period=spec.stop_timeout * NANO,
        healthcheck=_healthcheck(spec),
        init=spec.init or None,
    )
    networks = None
    if spec.network:
        aliases = list(dict.fromkeys([*spec.network_aliases, *filter(None, [spec.hostname])]))
        networks = [docker.types.NetworkAttachmentConfig(spec.network, aliases=aliases or None)]
    template = docker.types.TaskTemplate(
        container_spec=container,
        resources=resources(spec),
        restart_policy=docker.types.RestartPolicy(condition="none"),
        networks=networks,
    )
    ports = [
        {"Protocol": "tcp", "TargetPort": port, "PublishMode": "host"}
        for port in (spec.ports if spec.publish else [])
    ]
    return {
        "task_template": template,
        "name": service_name(spec.name),
        "labels": dict(spec.labels),
        "mode": docker.types.ServiceMode("replicated", replicas=1),
        # dnsrr: no virtual IP (VIPs need IPVS); the name resolves to the task itself
        "endpoint_spec": docker.types.EndpointSpec(mode="dnsrr", ports=ports or None),
    }


def resources(spec: ContainerSpec) -> docker.types.Resources:
    """Hard limits as swarm limits, ECS cpu units and soft memory as reservations."""
    return docker.types.Resources(
        cpu_limit=int(spec.cpus * NANO) if spec.cpus else None,
        mem_limit=spec.memory_mib * MIB if spec.memory_mib else None,
        cpu_reservation=int(spec.cpu_shares * NANO / CPU_UNITS_PER_VCPU)
        if spec.cpu_shares
        else None,
        mem_reservation=spec.memory_reservation_mib * MIB if spec.memory_reservation_mib else None,
    )


def _healthcheck(spec: ContainerSpec) -> docker.types.Healthcheck | None:
    check = spec.health_check
    if check is None:
        return None
    return docker.types.Healthcheck(
        test=list(check.test),
        interval=check.interval_s * NANO,
        timeout=check.timeout_s * NANO,
        retries=check.retries,
        start_period=check.start_period_s * NANO,
    )


def node_view(doc: Mapping[str, Any]) -> NodeView:
    """A node from ``GET /nodes``: its address is the one it advertised to the swarm
    (a manager may report ``0.0.0.0`` there; its manager address says it then)."""
    status = doc.get("Status") or {}
    address = str(status.get("Addr") or "")
    if address in ("", "0.0.0.0"):
        manager = str((doc.get("ManagerStatus") or {}).get("Addr") or "")
        address = manager.rpartition(":")[0] or manager
    return NodeView(
        id=str(doc["ID"]),
        hostname=str((doc.get("Description") or {}).get("Hostname") or ""),
        address=address,
        ready=str(status.get("State", "")).lower() == "ready",
    )


def current_task(tasks: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The task that stands for the service's one replica: the newest one."""
    if not tasks:
        return None
    return max(tasks, key=lambda t: (str(t.get("CreatedAt", "")), _index(t)))


def _replicas(spec: Mapping[str, Any]) -> int:
    replicated = (spec.get("Mode") or {}).get("Replicated") or {}
    return int(replicated.get("Replicas", 1))


def _index(task: Mapping[str, Any]) -> int:
    return int((task.get("Version") or {}).get("Index", 0))


def task_state(
    service: Mapping[str, Any],
    task: Mapping[str, Any] | None,
    nodes: Mapping[str, NodeView],
) -> ContainerState:
    """The service's replica as a :class:`ContainerState` (its id is the service's)."""
    spec = service.get("Spec") or {}
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    labels = dict(spec.get("Labels") or {})
    base = ContainerState(
        id=str(service["ID"]),
        name=str(spec.get("Name", "")),
        image=_image(str(container.get("Image", ""))),
        status="created",
        labels=labels,
    )
    if task is None:
        # no task: just created (the orchestrator has not made it yet), or scaled to 0
        # by ``stop`` and its task already deleted (swarm deletes a task it removes for
        # a scale-down within about a second of its shutdown, and one never placed at
        # once): that one is stopped for good, and reads so
        return replace(base, status="exited") if _replicas(spec) == 0 else base
    status = task.get("Status") or {}
    word = str(status.get("State", "")).lower()
    engine_status = _TASK_STATES.get(word, "dead")
    desired = str(task.get("DesiredState", "")).lower()
    if engine_status == "created" and desired in _STOPPING:
        engine_status = "exited"  # never started, and never will: it is being removed
    exit_code = (status.get("ContainerStatus") or {}).get("ExitCode")
    error = _explained(str(status.get("Err") or ""))
    node = nodes.get(str(task.get("NodeID") or ""))
    if node is not None and not node.ready and engine_status in ("created", "running"):
        engine_status = "dead"
        error = f"node {node.hostname or node.id} ({node.address}) is down"
    stamp = str(status.get("Timestamp") or "") or None
    running = engine_status == "running"
    published = {
        int(port["TargetPort"]): int(port["PublishedPort"])
        for port in (status.get("PortStatus") or {}).get("Ports") or []
        if port.get("PublishedPort") and port.get("Protocol", "tcp") == "tcp"
    }
    return ContainerState(
        id=base.id,
        name=base.name,
        image=base.image,
        status=engine_status,
        labels=labels,
        exit_code=None if engine_status in ("created", "running") else _exit(exit_code, word),
        error=error if engine_status in ("created", "dead") or error else "",
        started_at=stamp if running else None,
        finished_at=stamp if engine_status in ("exited", "dead") else None,
        host_ports=published if running else {},
        host_address=node.address if node is not None and running and published else None,
        ip_address=_overlay_address(task) if running else None,
        health=_health(container, engine_status),
    )


#: what a node says when a bind mount's source is not on it
_MISSING_BIND = "bind source path does not exist"
SHARED_PATHS_HINT = (
    "on a swarm, every path a task binds (Dockyard's state directory: endpoint models, "
    "training jobs; data channels, source directories, host volumes) must be on storage "
    "every node mounts at the same path, such as NFS; or bake the model into the image "
    "(`dockyard build --model-data`)"
)


def _explained(error: str) -> str:
    """A node's refusal, with what to do where the node alone cannot say it."""
    if _MISSING_BIND in error:
        return f"{error} ({SHARED_PATHS_HINT})"
    return error


def _exit(code: object, word: str) -> int:
    if isinstance(code, int):
        return code
    return 0 if word == "complete" else 1


def _image(ref: str) -> str:
    """The image as the user named it (swarm may pin ``@sha256:…`` on it)."""
    return ref.split("@", 1)[0]


def _overlay_address(task: Mapping[str, Any]) -> str | None:
    for attachment in task.get("NetworksAttachments") or []:
        for address in attachment.get("Addresses") or []:
            return str(address).split("/", 1)[0]
    return None


def _health(container: Mapping[str, Any], status: ContainerStatus) -> str | None:
    """Swarm reports a task with a health check as running only once it is healthy,
    and fails it when it turns unhealthy: the state says the verdict."""
    check = container.get("Healthcheck") or {}
    if not check.get("Test") or check.get("Test") == ["NONE"]:
        return None
    if status == "running":
        return "healthy"
    return "starting" if status == "created" else None
