"""Tasks onto containers: the one mechanism every shape runs through.

A task is a task definition's containers started together. ECS services, endpoint
replicas and training hosts all become tasks here, so labels, limits, mounts,
stop timeouts and re-adoption after a restart are written once. This module does
the I/O; what a task's state *is* (RUNNING, STOPPED and why) is decided in
:mod:`dockyard.control.task` from the observations gathered here.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dockyard.adapters.store.sqlite import Store
from dockyard.control.task import (
    ContainerObservation,
    EngineState,
    StopCode,
    Task,
    containers_to_start,
    containers_to_stop,
    engine_state,
    new_task,
    observe,
    request_stop,
)
from dockyard.errors import DockyardError, SpecError
from dockyard.ports.engine import ContainerSpec, ContainerState, Engine, Mount
from dockyard.server.codec import from_doc, to_doc
from dockyard.server.task_output import TaskOutput
from dockyard.spec.container import ContainerDefinition
from dockyard.spec.task_definition import TaskDefinition, parse_task_definition

MANAGED = "dockyard.managed"
TASK_LABEL = "dockyard.task"
CONTAINER_LABEL = "dockyard.container"
#: which Dockyard installation (state directory) started a container: one engine may
#: serve several daemons, and each may only sweep away its own containers
INSTALLATION_LABEL = "dockyard.installation"
DEFAULT_STOP_TIMEOUT = 30
CPU_UNITS_PER_VCPU = 1024


def new_task_id() -> str:
    """ECS-style task id: 32 hex characters."""
    return uuid.uuid4().hex


def installation_id(state_dir: Path) -> str:
    """This state directory's id (made once, kept in ``<state_dir>/installation-id``)."""
    path = state_dir / "installation-id"
    if path.is_file() and (saved := path.read_text().strip()):
        return saved
    state_dir.mkdir(parents=True, exist_ok=True)
    ident = uuid.uuid4().hex[:16]
    scratch = path.with_name(f".installation-id.{ident}")
    scratch.write_text(ident + "\n")
    scratch.replace(path)
    return ident


@dataclass(frozen=True)
class Placement:
    """Where and how a task's containers run, beyond what the definition says.

    ``network``/``hostnames`` place training hosts on a private network where they
    resolve as algo-1..N; ``extra_mounts`` add platform-provided directories (the
    SageMaker ``/opt/ml`` tree) to a named container; ``labels`` say who owns it.
    """

    name_prefix: str
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str | None = None
    hostnames: Mapping[str, str] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    extra_mounts: Mapping[str, tuple[Mount, ...]] = field(default_factory=dict)
    init: bool = False


def _safe(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-") or "task"


def _container_spec(
    task_id: str,
    definition: TaskDefinition,
    container: ContainerDefinition,
    placement: Placement,
    volumes_root: Path,
) -> ContainerSpec:
    if container.secrets:
        raise SpecError(
            "secrets are not supported by the local engine yet",
            field=f"containerDefinitions[{container.name}].secrets",
            hint="pass the values as environment for now",
        )
    cpu_units = container.cpu or definition.cpu_units or 0
    env = {pair.name: pair.value for pair in container.environment}
    env.update(placement.extra_env)
    labels = {
        **placement.labels,
        MANAGED: "1",
        TASK_LABEL: task_id,
        CONTAINER_LABEL: container.name,
    }
    hostname = placement.hostnames.get(container.name)
    init = placement.init or bool(
        container.linux_parameters and container.linux_parameters.init_process_enabled
    )
    return ContainerSpec(
        name=f"{_safe(placement.name_prefix)}-{task_id[:8]}-{_safe(container.name)}",
        image=container.image,
        command=list(container.command) if container.command is not None else None,
        entrypoint=list(container.entry_point) if container.entry_point is not None else None,
        env=env,
        labels=labels,
        mounts=_mounts(task_id, definition, container, placement, volumes_root),
        ports=[mapping.container_port for mapping in container.port_mappings],
        network=placement.network,
        hostname=hostname,
        network_aliases=[hostname] if hostname and placement.network else [],
        cpus=cpu_units / CPU_UNITS_PER_VCPU if cpu_units else None,
        memory_mib=container.memory or definition.memory_mib,
        user=container.user,
        working_dir=container.working_directory,
        stop_timeout=container.stop_timeout or DEFAULT_STOP_TIMEOUT,
        init=init,
    )


def _mounts(
    task_id: str,
    definition: TaskDefinition,
    container: ContainerDefinition,
    placement: Placement,
    volumes_root: Path,
) -> list[Mount]:
    """Mount points resolved to host paths; volumes without a source path are task-scoped."""
    volumes = {volume.name: volume for volume in definition.volumes}
    mounts: list[Mount] = []
    for point in container.mount_points:
        volume = volumes[point.source_volume]
        source = volume.host.source_path if volume.host and volume.host.source_path else None
        if source is None:
            scratch = volumes_root / task_id / volume.name
            scratch.mkdir(parents=True, exist_ok=True)
            scratch.chmod(0o777)
            source = str(scratch)
        mounts.append(Mount(source, point.container_path, point.read_only))
    mounts.extend(placement.extra_mounts.get(container.name, ()))
    return mounts


def placement_to_doc(placement: Placement) -> dict[str, Any]:
    return {
        "name_prefix": placement.name_prefix,
        "labels": dict(placement.labels),
        "network": placement.network,
        "hostnames": dict(placement.hostnames),
        "extra_env": dict(placement.extra_env),
        "extra_mounts": {
            name: [[m.source, m.target, m.read_only] for m in mounts]
            for name, mounts in placement.extra_mounts.items()
        },
        "init": placement.init,
    }


def placement_from_doc(doc: Mapping[str, Any]) -> Placement:
    return Placement(
        name_prefix=doc["name_prefix"],
        labels=doc["labels"],
        network=doc["network"],
        hostnames=doc["hostnames"],
        extra_env=doc["extra_env"],
        extra_mounts={
            name: tuple(Mount(src, dst, bool(ro)) for src, dst, ro in mounts)
            for name, mounts in doc["extra_mounts"].items()
        },
        init=doc["init"],
    )


@dataclass
class TaskRecord:
    """A task as stored: control's :class:`Task` plus what the server needs to act.

    ``definition`` and ``placement`` travel with the task so that after a restart
    the daemon can finish starting, or stop, a task without looking anything else up.
    ``start_errors`` holds the engine's refusal to create a container; the next
    observation reports it, so control decides (TaskFailedToStart), not the server.
    """

    task: Task
    owner: str
    definition: TaskDefinition
    placement: Placement
    start_errors: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        return {
            "task": to_doc(self.task),
            "owner": self.owner,
            "definition": self.definition.to_aws(),
            "placement": placement_to_doc(self.placement),
            "start_errors": self.start_errors,
            "extra": self.extra,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> TaskRecord:
        return cls(
            task=from_doc(Task, doc["task"]),
            owner=doc["owner"],
            definition=parse_task_definition(doc["definition"]),
            placement=placement_from_doc(doc["placement"]),
            start_errors=dict(doc.get("start_errors") or {}),
            extra=dict(doc.get("extra") or {}),
        )


def _observation(state: ContainerState) -> ContainerObservation:
    return ContainerObservation(
        state=engine_state(state.status),
        container_id=state.id,
        exit_code=state.exit_code,
        oom_killed=state.oom_killed,
        error=state.error if state.status in ("created", "dead") and state.error else "",
    )


class TaskManager:
    """Creates tasks, steps them through their lifecycle, and reaps them.

    Everything goes through the store first: a task is written (PROVISIONING) before
    any container exists, and its containers carry its id as a label, so a daemon
    that dies at any point finds the task again and carries on from what it sees.
    """

    KIND = "task"

    def __init__(
        self,
        engine: Engine,
        store: Store,
        volumes_root: Path,
        *,
        installation: str,
        logs_root: Path,
    ) -> None:
        self.engine = engine
        self.store = store
        self.volumes_root = volumes_root
        self.output = TaskOutput(engine, logs_root)
        self.installation = installation
        self._stopper = ThreadPoolExecutor(max_workers=8, thread_name_prefix="stop")

    def close(self) -> None:
        self._stopper.shutdown(wait=False, cancel_futures=True)

    def create(
        self,
        owner: str,
        definition: TaskDefinition,
        revision: str,
        placement: Placement,
        *,
        now: float,
        extra: dict[str, Any] | None = None,
    ) -> TaskRecord:
        task = new_task(new_task_id(), definition, revision, now, started_by=owner)
        record = TaskRecord(task, owner, definition, placement, extra=dict(extra or {}))
        self.save(record)
        return self.step(record, now)

    def save(self, record: TaskRecord) -> None:
        self.store.put(self.KIND, record.task.task_id, record.to_doc(), owner=record.owner)

    def records(self, owner: str) -> list[TaskRecord]:
        return [TaskRecord.from_doc(doc) for doc in self.store.list(self.KIND, owner=owner)]

    def all_task_ids(self) -> set[str]:
        return {doc["task"]["task_id"] for doc in self.store.list(self.KIND)}

    def observe(self, task_id: str) -> dict[str, ContainerState]:
        """The task's containers as the engine sees them now, by container name."""
        return {
            state.labels.get(CONTAINER_LABEL, state.name): state
            for state in self.engine.list({TASK_LABEL: task_id})
        }

    def step(self, record: TaskRecord, now: float) -> TaskRecord:
        """Observe, let control decide, act; persist when anything changed."""
        before = record.task
        seen, observations = self._look(record)
        record.task = observe(record.task, observations, now)
        starting = containers_to_start(record.task)
        for name in starting:
            self._start(record, name)
        if starting:
            seen, observations = self._look(record)
            record.task = observe(record.task, observations, now)
        for name in containers_to_stop(record.task):
            state = seen.get(name)
            if state is not None and state.running:
                timeout = record.definition.container(name).stop_timeout or DEFAULT_STOP_TIMEOUT
                self._stopper.submit(self._stop_quietly, state.id, timeout)
        if record.task != before:
            self.save(record)
        return record

    def _look(
        self, record: TaskRecord
    ) -> tuple[dict[str, ContainerState], dict[str, ContainerObservation | None]]:
        """The engine's view of the task's containers, and control's reading of it."""
        seen = self.observe(record.task.task_id)
        addresses = {
            name: {str(port): f"127.0.0.1:{host}" for port, host in state.host_ports.items()}
            for name, state in seen.items()
            if state.running and state.host_ports
        }
        if addresses and addresses != record.extra.get("addresses"):
            record.extra["addresses"] = addresses
            self.save(record)
        observations: dict[str, ContainerObservation | None] = {
            name: _observation(state) for name, state in seen.items()
        }
        for name, error in record.start_errors.items():
            observations.setdefault(name, ContainerObservation(EngineState.EXITED, "", error=error))
        return seen, observations

    def _start(self, record: TaskRecord, name: str) -> None:
        definition = record.definition
        try:
            if record.placement.network:
                self.engine.ensure_network(record.placement.network, {MANAGED: "1"})
            spec = _container_spec(
                record.task.task_id,
                definition,
                definition.container(name),
                record.placement,
                self.volumes_root,
            )
            labels = {**spec.labels, INSTALLATION_LABEL: self.installation}
            self.engine.run(replace(spec, labels=labels))
        except DockyardError as error:
            record.start_errors[name] = error.message
            self.save(record)

    @staticmethod
    def address(record: TaskRecord, container: str, port: int) -> str | None:
        """Where a running container's port answers on this machine (``127.0.0.1:N``)."""
        addresses: dict[str, dict[str, str]] = record.extra.get("addresses") or {}
        return addresses.get(container, {}).get(str(port))

    def request_stop(self, record: TaskRecord, code: StopCode, reason: str, now: float) -> None:
        record.task = request_stop(record.task, code, reason, now)
        self.save(record)
        self.step(record, now)

    def reap(self, record: TaskRecord) -> None:
        """Remove a STOPPED task's containers, scratch volumes and record.

        The tail of each container's output is kept first (see :mod:`task_output`):
        the output of a replica that crashed is what explains the crash.
        """
        for state in self.engine.list({TASK_LABEL: record.task.task_id}):
            self.output.keep(record.owner, record.task.task_id, state)
            self._remove_quietly(state.id)
        shutil.rmtree(self.volumes_root / record.task.task_id, ignore_errors=True)
        self.store.delete(self.KIND, record.task.task_id)

    def remove_orphans(self) -> list[str]:
        """This installation's containers whose task is unknown: stop and remove them.

        Only containers labelled with this installation's id: another daemon on the
        same engine (another state directory) owns the rest.
        """
        known = self.all_task_ids()
        removed = []
        for state in self.engine.list({MANAGED: "1", INSTALLATION_LABEL: self.installation}):
            task_id = state.labels.get(TASK_LABEL)
            if task_id and task_id not in known:
                self._remove_quietly(state.id)
                removed.append(state.name)
        return removed

    def _stop_quietly(self, container_id: str, timeout: int) -> None:
        with contextlib.suppress(DockyardError):
            self.engine.stop(container_id, timeout)

    def _remove_quietly(self, container_id: str) -> None:
        with contextlib.suppress(DockyardError):
            self.engine.remove(container_id)
