"""Container instances (the EC2 launch type's hosts) and where EC2 tasks are placed.

The local engine is registered as the first container instance when the daemon starts
(:func:`ensure_default`), with the capacity it reports: CPU units = cores x 1024,
memory = the engine's total memory in MiB. More engines register by URL
(:func:`register`, ``dockyard instances register tcp://HOST:PORT``), optionally
offering less than they report (ECS's ``totalResources``). Instance ids are derived
from the engine URL, so registering the same URL twice is one instance. An engine on
another host (or in a network namespace of this one) has an ``address`` this host
reaches it at (by default the host of a ``tcp://``/``http(s)://``/``ssh://`` URL): its
tasks' ports are published on that address, and the balancer targets them there, as an
ALB targets an EC2 task's host port on the instance's private IP.

Placement (:func:`place`) runs :func:`dockyard.control.placement.place` over the
ACTIVE instances and the EC2 tasks not yet STOPPED; the chosen instance's id goes
into the task's labels, and the fleet engine
(:class:`~dockyard.adapters.engine.fleet.FleetEngine`) starts its containers on that
instance's engine. A lock makes placement and the task's creation one step, so two
tasks placed at once never count the same free memory twice.

Draining (``UpdateContainerInstancesState`` DRAINING) and deregistering take an
instance out of placement; services replace their tasks that run there
(:func:`retiring_tasks`), the way ECS's scheduler moves tasks off a draining instance.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from dockyard.adapters.engine.docker_api import DockerEngine
from dockyard.adapters.engine.fleet import INSTANCE_LABEL, FleetEngine
from dockyard.control import placement
from dockyard.control.task import TaskStatus
from dockyard.errors import Conflict, DockyardError, NotFound, SpecError
from dockyard.ports.engine import Engine
from dockyard.records.instance import ContainerInstanceRecord, InstanceStatus
from dockyard.records.service import ServiceRecord
from dockyard.records.task import TaskRecord
from dockyard.server.ecs_shapes import ARN_PREFIX, CLUSTER, GROUP_LABEL, LAUNCH_TYPE_LABEL
from dockyard.server.platform import Platform
from dockyard.spec.placement import PlacementRules, parse_placement
from dockyard.spec.task_definition import TaskDefinition

KIND = ContainerInstanceRecord.KIND
log = logging.getLogger("dockyard.instances")
CPU_UNITS_PER_CORE = 1024
AVAILABILITY_ZONE = "ecs.availability-zone"
DEFAULT_ZONE = "local-a"
URL_SCHEMES = ("tcp://", "unix://", "http://", "https://", "ssh://")
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)

#: placement and the creation of the placed task happen under this lock (one daemon)
placing = threading.Lock()


def instance_id(engine_url: str) -> str:
    """ECS's form (32 hex digits), derived from the engine's URL: stable across restarts."""
    return hashlib.sha256(engine_url.encode()).hexdigest()[:32]


def instance_arn(instance: str) -> str:
    return f"{ARN_PREFIX}:container-instance/{CLUSTER}/{instance}"


def _fleet(platform: Platform) -> FleetEngine | None:
    engine = platform.engine
    return engine if isinstance(engine, FleetEngine) else None


def local_url(platform: Platform) -> str:
    return str(getattr(platform.engine, "base_url", "local"))


def ensure_default(platform: Platform) -> None:
    """Register the local engine once; attach every registered engine to the fleet.

    A deregistered local instance stays deregistered (its INACTIVE record remains).
    """
    url = local_url(platform)
    if platform.store.container_instances.get(instance_id(url)) is None:
        cores, memory = platform.engine.capacity()
        record = ContainerInstanceRecord(
            instance_id(url),
            url,
            cores * CPU_UNITS_PER_CORE,
            memory,
            platform.clock(),
            attributes={AVAILABILITY_ZONE: DEFAULT_ZONE},
        )
        platform.store.container_instances.put(record)
    fleet = _fleet(platform)
    if fleet is None:
        return
    attached = fleet.attached()
    for record in platform.store.container_instances.list():
        if record.engine_url == url or record.instance_id in attached:
            continue
        if record.status is InstanceStatus.INACTIVE and not _tasks_on(platform, record):
            continue
        try:
            fleet.attach(record.instance_id, _connect(record.engine_url, record.address))
        except DockyardError as error:  # its tasks are seen as lost until it answers
            log.warning("container instance %s: %s", record.instance_id, error)


def _connect(url: str, address: str | None) -> Engine:
    return DockerEngine(url, publish_address=address)


def default_address(url: str) -> str | None:
    """The host named by a network URL (``tcp://10.0.0.5:2375`` -> ``10.0.0.5``); None
    for a unix socket, whose engine is this host's."""
    if url.startswith("unix://"):
        return None
    rest = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if rest.startswith("["):  # [v6]:port
        return rest[1:].split("]", 1)[0] or None
    return rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest or None


def _address(value: Any, url: str) -> str | None:
    if value is None:
        return default_address(url)
    if isinstance(value, str):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            if HOSTNAME.match(value):
                return value
    raise SpecError(
        f"address must be an IP address or a host name, not {value!r}",
        field="address",
        hint="give the address this host reaches the engine's host at, e.g. 10.0.0.5",
    )


def register(platform: Platform, doc: Any) -> dict[str, Any]:
    """RegisterContainerInstance: ``{"engineUrl", "cpu"?, "memory"?, "attributes"?,
    "address"?}``."""
    if not isinstance(doc, dict):
        raise SpecError("the request must be a JSON object", hint='send {"engineUrl": "..."}')
    unknown = sorted(set(doc) - {"engineUrl", "cpu", "memory", "attributes", "address"})
    if unknown:
        raise SpecError(
            f"unknown member {unknown[0]}",
            field=unknown[0],
            hint="give engineUrl, and optionally cpu, memory, attributes and address",
        )
    url = doc.get("engineUrl")
    if not isinstance(url, str) or not url.startswith(URL_SCHEMES):
        raise SpecError(
            f"{url!r} is not an engine URL",
            field="engineUrl",
            hint="give the Docker API URL of the engine, e.g. tcp://10.0.0.5:2375 or "
            "unix:///run/docker.sock",
        )
    attributes = doc.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise SpecError(
            "attributes must map names to strings",
            field="attributes",
            hint='e.g. {"ecs.availability-zone": "local-b"}',
        )
    existing = platform.store.container_instances.get(instance_id(url))
    if existing is not None and existing.status is not InstanceStatus.INACTIVE:
        raise Conflict(
            f"the engine at {url} is registered already as {existing.instance_id}",
            field="engineUrl",
            resource=f"container-instance/{existing.instance_id}",
            hint="deregister it first to register it again",
        )
    local = url == local_url(platform)
    address = None if local else _address(doc.get("address"), url)
    engine = platform.engine if local else _connect(url, address)
    cores, memory = engine.capacity()
    cpu_offered = _offered(doc.get("cpu"), cores * CPU_UNITS_PER_CORE, "cpu", "CPU units")
    memory_offered = _offered(doc.get("memory"), memory, "memory", "MiB")
    record = ContainerInstanceRecord(
        instance_id(url),
        url,
        cpu_offered,
        memory_offered,
        platform.clock(),
        attributes={AVAILABILITY_ZONE: DEFAULT_ZONE, **attributes},
        address=address,
    )
    platform.store.container_instances.put(record)
    fleet = _fleet(platform)
    if fleet is not None and engine is not platform.engine:
        fleet.attach(record.instance_id, engine)
    return {"containerInstance": describe_instance(platform, record)}


def _offered(value: Any, reported: int, field: str, unit: str) -> int:
    if value is None:
        return reported
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= reported:
        raise SpecError(
            f"{field} must be a whole number of {unit} from 1 to {reported} (what the engine "
            f"reports), not {value!r}",
            field=field,
            hint=f"leave {field} out to offer all {reported} {unit}",
        )
    return value


def require(platform: Platform, name: str) -> ContainerInstanceRecord:
    """An instance by id or ARN (a unique id prefix of 6+ characters works too)."""
    key = name.rsplit("/", 1)[-1]
    record = platform.store.container_instances.get(key)
    if record is None and len(key) >= 6:
        found = [r for r in platform.store.container_instances.list() if r.key.startswith(key)]
        record = found[0] if len(found) == 1 else None
    if record is None:
        raise NotFound(
            f"no container instance {key}",
            resource=f"container-instance/{key}",
            hint="list them with `dockyard instances`",
        )
    return record


def set_status(platform: Platform, name: str, status: str) -> dict[str, Any]:
    """UpdateContainerInstancesState: ACTIVE or DRAINING."""
    if status not in (InstanceStatus.ACTIVE, InstanceStatus.DRAINING):
        raise SpecError(f"status cannot be {status}", field="status", hint="use ACTIVE or DRAINING")
    with platform.store.transaction():
        record = require(platform, name)
        if record.status is InstanceStatus.INACTIVE:
            raise Conflict(
                f"container instance {record.instance_id} is deregistered",
                resource=f"container-instance/{record.instance_id}",
                hint="register its engine again",
            )
        record = replace(record, status=InstanceStatus(status))
        platform.store.container_instances.put(record)
    platform.wake("service", None)
    return {"containerInstance": describe_instance(platform, record)}


def deregister(platform: Platform, name: str, *, force: bool = False) -> dict[str, Any]:
    """DeregisterContainerInstance: refused while tasks run on it, unless ``force``.

    With ``force`` the instance is INACTIVE at once: services replace their tasks that
    ran there (then stop them); standalone tasks keep running, as ECS leaves them.
    """
    record = require(platform, name)
    running = _tasks_on(platform, record)
    if running and not force:
        raise Conflict(
            f"Found running tasks on the instance: {len(running)} task(s) run on "
            f"{record.instance_id}",
            resource=f"container-instance/{record.instance_id}",
            hint="drain it first (`dockyard instances drain ID`), or deregister with --force",
        )
    record = replace(record, status=InstanceStatus.INACTIVE)
    platform.store.container_instances.put(record)
    platform.wake("service", None)
    return {"containerInstance": describe_instance(platform, record)}


def _tasks_on(platform: Platform, record: ContainerInstanceRecord) -> list[TaskRecord]:
    return [
        task
        for task in platform.store.tasks.list()
        if task.placement.labels.get(INSTANCE_LABEL) == record.instance_id
        and task.task.last_status is not TaskStatus.STOPPED
    ]


def describe_instance(platform: Platform, record: ContainerInstanceRecord) -> dict[str, Any]:
    """ECS's ContainerInstance shape."""
    tasks = _tasks_on(platform, record)
    used_cpu, used_memory = 0, 0
    for task in tasks:
        cpu, memory = placement.reservation(task.definition)
        used_cpu, used_memory = used_cpu + cpu, used_memory + memory
    running = sum(1 for t in tasks if t.task.last_status is TaskStatus.RUNNING)

    def resources(cpu: int, memory: int) -> list[dict[str, Any]]:
        return [
            {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
        ]

    return {
        "containerInstanceArn": instance_arn(record.instance_id),
        "containerInstanceId": record.instance_id,
        "ec2InstanceId": record.engine_url,
        "status": record.status.value,
        "agentConnected": record.status is not InstanceStatus.INACTIVE,
        "runningTasksCount": running,
        "pendingTasksCount": len(tasks) - running,
        "registeredResources": resources(record.cpu, record.memory),
        "remainingResources": resources(record.cpu - used_cpu, record.memory - used_memory),
        "attributes": [{"name": k, "value": v} for k, v in sorted(record.attributes.items())],
        "registeredAt": record.registered_at,
    }


def list_instances(platform: Platform) -> dict[str, Any]:
    """ListContainerInstances + DescribeContainerInstances (INACTIVE ones included)."""
    records = platform.store.container_instances.list()
    return {"containerInstances": [describe_instance(platform, r) for r in records]}


# -- placement ---------------------------------------------------------------------------


def is_ec2(labels: dict[str, str] | Any) -> bool:
    """Whether a task with these placement labels is placed on an instance."""
    return bool(labels.get(LAUNCH_TYPE_LABEL) == "EC2")


def place(
    platform: Platform,
    definition: TaskDefinition,
    group: str,
    rules: PlacementRules,
    also: Iterable[placement.PlacedTask] = (),
) -> placement.Outcome:
    """Where a task of ``definition`` goes; ``also``: tasks placed but not yet stored.

    Call under :data:`placing` and store the task before releasing it.
    """
    instances = [
        placement.Instance(r.instance_id, r.cpu, r.memory, dict(r.attributes))
        for r in platform.store.container_instances.list()
        if r.status is InstanceStatus.ACTIVE
    ]
    placed = [*_placed_tasks(platform), *also]
    cpu, memory = placement.reservation(definition)
    request = placement.Request(
        cpu,
        memory,
        group,
        tuple(placement.Strategy(kind, field) for kind, field in rules.strategies),
        distinct_instance=rules.distinct_instance,
        member_of=rules.member_of,
        seed=secrets.randbelow(2**32),
    )
    return placement.place(request, instances, placed)


def _placed_tasks(platform: Platform) -> list[placement.PlacedTask]:
    found = []
    for record in platform.store.tasks.list():
        where = record.placement.labels.get(INSTANCE_LABEL)
        if where and record.task.last_status is not TaskStatus.STOPPED:
            cpu, memory = placement.reservation(record.definition)
            group = record.placement.labels.get(GROUP_LABEL, "")
            found.append(placement.PlacedTask(where, cpu, memory, group))
    return found


def retiring_tasks(platform: Platform, records: Iterable[TaskRecord]) -> frozenset[str]:
    """Ids of the tasks among ``records`` that run on an instance no longer ACTIVE."""
    records = [r for r in records if INSTANCE_LABEL in r.placement.labels]
    if not records:  # endpoints' replicas and unplaced tasks: nothing to look up
        return frozenset()
    statuses = {r.instance_id: r.status for r in platform.store.container_instances.list()}
    return frozenset(
        record.task.task_id
        for record in records
        if (where := record.placement.labels.get(INSTANCE_LABEL))
        and statuses.get(where, InstanceStatus.INACTIVE) is not InstanceStatus.ACTIVE
    )


def rules_of(service: ServiceRecord) -> PlacementRules:
    """A user service's placementStrategy and placementConstraints (checked at create)."""
    if service.ecs is None:
        return PlacementRules()
    spec = service.ecs.spec
    return parse_placement(
        spec.aws_field("placementStrategy"), spec.aws_field("placementConstraints")
    )


class Placer:
    """Places the EC2 tasks of user services, for the service reconciler."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def applies(self, service: ServiceRecord) -> bool:
        """EC2 tasks of a user service, on this machine's backend (a cluster places its own)."""
        return (
            self.platform.settings.backend == "local"
            and service.ecs is not None
            and is_ec2(service.placement.labels)
        )

    def __call__(self, service: ServiceRecord, definition: TaskDefinition) -> placement.Outcome:
        """Call under :data:`placing`, and create the task before releasing it."""
        ensure_default(self.platform)
        group = service.placement.labels.get(GROUP_LABEL, f"service:{service.name}")
        return place(self.platform, definition, group, rules_of(service))

    def retiring(self, records: Iterable[TaskRecord]) -> frozenset[str]:
        return retiring_tasks(self.platform, records)
